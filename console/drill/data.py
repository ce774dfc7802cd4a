"""The drill's backup contents: a MySQL-style SQL dump and the files of the storage tarball.

Generated, not shipped: a seeded random generator gives the same few hundred rows every time.
The dump keeps to what both MySQL and sqlite load (``DROP TABLE IF EXISTS``, ``CREATE TABLE``
with simple types, multi-row ``INSERT``, strings quoted with doubled quotes, ``/*! ... */``
version comments that sqlite reads as comments), so the sandbox's ``mysql`` stand-in can really
restore it into sqlite.
"""

from __future__ import annotations

import random
import struct
import zlib
from datetime import datetime, timedelta

FIRST = ["Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hannes", "Ida", "Jonas", "Lea", "Mats"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "O'Brien"]
TREATMENTS = [
    ("Haircut", 30, 3500),
    ("Haircut & blow-dry", 60, 5500),
    ("Colour", 90, 8900),
    ("Highlights", 120, 11900),
    ("Beard trim", 20, 1800),
    ("Manicure", 45, 3200),
    ("Pedicure", 60, 3900),
    ("Facial", 60, 6500),
    ("Eyebrow shaping", 15, 1500),
    ("Wedding styling", 150, 18900),
    ("Kids cut", 20, 2000),
    ("Scalp treatment", 30, 2900),
]
STATUSES = ["booked", "completed", "completed", "completed", "cancelled", "no-show"]

# Laravel migrations of v0.9.0 (recorded in the dump) and the one v1.0.0 added.
MIGRATIONS_090 = [
    "2014_10_12_000000_create_users_table",
    "2019_08_19_000000_create_failed_jobs_table",
    "2024_03_01_000000_create_customers_table",
    "2024_03_01_000100_create_services_table",
    "2024_03_01_000200_create_appointments_table",
]
MIGRATION_100 = "2025_01_05_000000_add_loyalty_points_to_customers"

CUSTOMERS = 240
APPOINTMENTS = 360


def _quote(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _insert(table: str, rows: list[tuple[object, ...]], per_statement: int = 50) -> list[str]:
    out = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ",".join("(" + ",".join(_quote(v) for v in row) + ")" for row in chunk)
        out.append(f"INSERT INTO `{table}` VALUES {values};")
    return out


def tables() -> dict[str, list[tuple[object, ...]]]:
    """The rows of every table in the backup, in dump order."""
    rng = random.Random(20250110)
    base = datetime(2024, 3, 1, 9, 0)
    services = [(i, name, minutes, price) for i, (name, minutes, price) in enumerate(TREATMENTS, start=1)]
    customers = []
    for i in range(1, CUSTOMERS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{i}@example.com".lower().replace("'", "").replace("ü", "ue")
        phone = f"+49-30-{rng.randrange(1000000, 9999999)}"
        created = base + timedelta(days=rng.randrange(0, 300), minutes=rng.randrange(0, 600))
        customers.append((i, f"{first} {last}", email, phone, created.strftime("%Y-%m-%d %H:%M:%S")))
    appointments = []
    for i in range(1, APPOINTMENTS + 1):
        start = base + timedelta(days=rng.randrange(0, 320), hours=rng.randrange(0, 9), minutes=15 * rng.randrange(4))
        appointments.append(
            (
                i,
                rng.randrange(1, CUSTOMERS + 1),
                rng.randrange(1, len(TREATMENTS) + 1),
                start.strftime("%Y-%m-%d %H:%M:%S"),
                rng.choice(STATUSES),
            )
        )
    migrations = [(i, name, 1) for i, name in enumerate(MIGRATIONS_090, start=1)]
    return {"services": services, "customers": customers, "appointments": appointments, "migrations": migrations}


SCHEMA = {
    "services": [
        "`id` INTEGER NOT NULL",
        "`name` VARCHAR(120) NOT NULL",
        "`duration_minutes` INTEGER NOT NULL",
        "`price_cents` INTEGER NOT NULL",
    ],
    "customers": [
        "`id` INTEGER NOT NULL",
        "`name` VARCHAR(255) NOT NULL",
        "`email` VARCHAR(255) NOT NULL",
        "`phone` VARCHAR(40) DEFAULT NULL",
        "`created_at` DATETIME DEFAULT NULL",
    ],
    "appointments": [
        "`id` INTEGER NOT NULL",
        "`customer_id` INTEGER NOT NULL",
        "`service_id` INTEGER NOT NULL",
        "`starts_at` DATETIME NOT NULL",
        "`status` VARCHAR(20) NOT NULL",
    ],
    "migrations": [
        "`id` INTEGER NOT NULL",
        "`migration` VARCHAR(255) NOT NULL",
        "`batch` INTEGER NOT NULL",
    ],
}


def row_counts() -> dict[str, int]:
    return {name: len(rows) for name, rows in tables().items()}


def sql_dump(taken_at: str = "2025-01-10 02:00:00") -> str:
    """A mysqldump-style dump of the v0.9.0 database, as it was before the v1.0.0 deploy."""
    lines = [
        "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)",
        "--",
        "-- Host: 127.0.0.1    Database: salonmanager",
        "-- ------------------------------------------------------",
        "-- Server version\t8.0.36",
        "",
        "/*!40101 SET NAMES utf8mb4 */;",
        "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;",
        "",
    ]
    for table, rows in tables().items():
        columns = ",\n  ".join([*SCHEMA[table], "PRIMARY KEY (`id`)"])
        lines += [
            "--",
            f"-- Table structure for table `{table}`",
            "--",
            "",
            f"DROP TABLE IF EXISTS `{table}`;",
            f"CREATE TABLE `{table}` (\n  {columns}\n);",
            "",
            "--",
            f"-- Dumping data for table `{table}`",
            "--",
            "",
            *_insert(table, rows),
            "",
        ]
    lines += [
        "/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;",
        "",
        f"-- Dump completed on {taken_at}",
        "",
    ]
    return "\n".join(lines)


# The damage the bad v1.0.0 deploy did to the live database (the incident being rehearsed).
INCIDENT_DAMAGE = f"""
ALTER TABLE customers ADD COLUMN loyalty_points INTEGER DEFAULT 0;
DELETE FROM appointments WHERE id % 3 = 0;
UPDATE customers SET email = '' WHERE id % 7 = 0;
INSERT INTO migrations (id, migration, batch) VALUES ({len(MIGRATIONS_090) + 1}, '{MIGRATION_100}', 2);
"""


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A small valid PNG of one colour."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(colour) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def pdf(text: str) -> bytes:
    """A minimal one-page PDF showing ``text``."""
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def storage_files() -> dict[str, bytes]:
    """The files of ``storage_backup.tar.gz``, relative to ``storage/app``."""
    files: dict[str, bytes] = {}
    colours = [(200, 80, 80), (80, 160, 90), (70, 110, 200), (220, 180, 60), (150, 90, 180), (60, 170, 170)]
    for i, colour in enumerate(colours, start=1):
        files[f"public/avatars/customer-{i:03d}.png"] = png(16, 16, colour)
    for i in range(1, 5):
        files[f"invoices/2025-01/INV-2025-{i:04d}.pdf"] = pdf(f"SalonManager invoice INV-2025-{i:04d}")
    files["public/logo.png"] = png(32, 8, (30, 30, 30))
    return files
