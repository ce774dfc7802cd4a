"""The mysqldump-style dump the mysql tests restore (and benchmarks/mysql_restore.py times).

More than tricky enough: extended INSERTs, strings full of quotes, escapes, semicolons and comment
markers, binary BLOBs, a trigger and a function in DELIMITER blocks, a view.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

_ESCAPES = {0: b"\\0", 10: b"\\n", 13: b"\\r", 26: b"\\Z", 39: b"\\'", 34: b'\\"', 92: b"\\\\"}
TRICKY = [
    "it's",
    'say "hi"',
    "semi;colon;",
    "-- not a comment",
    "/* not a comment */",
    "# not a comment",
    "back\\slash\\",
    "new\nline\r\n",
    "),(",
    ");\n",
    "DELIMITER ;;",
    "émoji 😀",
    "*/ */",
    "'; DROP TABLE customers; --",
    "\\'",
    "''",
    "`tick`",
    "$$",
    "\x1a ctrl-z \x00 nul",
]
HEADER = b"""-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: salonmanager
-- ------------------------------------------------------
-- Server version	10.11.6-MariaDB-0+deb12u1

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
"""
TABLES = {
    "customers": """CREATE TABLE `customers` (
  `id` int(11) NOT NULL,
  `name` varchar(100) NOT NULL,
  `email` varchar(100) NOT NULL,
  `notes` text DEFAULT NULL,
  `balance` decimal(10,2) NOT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    "appointments": """CREATE TABLE `appointments` (
  `id` int(11) NOT NULL,
  `customer_id` int(11) NOT NULL,
  `starts_at` datetime NOT NULL,
  `service` varchar(200) NOT NULL,
  `status` enum('booked','done','cancelled') NOT NULL,
  PRIMARY KEY (`id`),
  KEY `customer` (`customer_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "attachments": """CREATE TABLE `attachments` (
  `id` int(11) NOT NULL,
  `data` blob NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "odd_rows": """CREATE TABLE `odd_rows` (
  `id` int(11) NOT NULL,
  `txt` text NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
}
# Not mysqldump's style but legal SQL a hand-edited dump has: raw newlines in strings, doubled
# quotes, double-quoted strings, comments between rows, nested parentheses.
ODD_ROWS = b"""INSERT INTO `odd_rows` (`id`, `txt`) VALUES
(1, 'line one
line two; still the string'),   -- a comment with a quote ' and a ;
(2, 'it''s doubled'), /* block ; ' comment */ (3, "double \\" quoted; string"),
# hash comment ; '
(4, CONCAT('nested(', 'parens)')),
(5, 'tail');
"""
ODD_TEXT = {
    1: "line one\nline two; still the string",
    2: "it's doubled",
    3: 'double " quoted; string',
    4: "nested(parens)",
    5: "tail",
}
TRIGGER_TEXT = "n/a;; it's -- set by trigger"
ROUTINES = b"""/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER `customers_bi` BEFORE INSERT ON `customers`
FOR EACH ROW BEGIN
  IF NEW.notes IS NULL THEN SET NEW.notes = 'n/a;; it''s -- set by trigger'; END IF;
END */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
/*!50003 DROP FUNCTION IF EXISTS `greeting` */;
DELIMITER $$
CREATE DEFINER=CURRENT_USER FUNCTION `greeting`(n VARCHAR(50)) RETURNS varchar(100) CHARSET utf8mb4
    DETERMINISTIC
BEGIN
  -- a comment ; inside the body
  RETURN CONCAT('Hello; ', n, ' /* not a comment */');
END $$
DELIMITER ;
/*!50001 DROP VIEW IF EXISTS `big_spenders` */;
/*!50001 CREATE VIEW `big_spenders` AS SELECT `id`, `name` FROM `customers` WHERE `balance` > 9000 */;
"""
TRAILER = b"""/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;

-- Dump completed on 2025-01-10  2:00:00
"""


def esc(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return b"'" + b"".join(_ESCAPES.get(c, bytes((c,))) for c in raw) + b"'"


@dataclass
class Dump:
    sql: Path
    counts: dict[str, int]
    blobs: dict[int, bytes]
    size: int


def _inserts(table: str, rows, limit: int = 1_000_000):
    batch, size = [], 0
    for row in rows:
        batch.append(row)
        size += len(row) + 1
        if size >= limit:
            yield b"INSERT INTO `" + table.encode() + b"` VALUES " + b",".join(batch) + b";\n"
            batch, size = [], 0
    if batch:
        yield b"INSERT INTO `" + table.encode() + b"` VALUES " + b",".join(batch) + b";\n"


def write_dump(path: Path, size: int, *, seed: int = 7) -> Dump:
    """A mysqldump-style dump of about ``size`` bytes; returns the rows each table gets."""
    rnd = random.Random(seed)
    words = ["alpha", "beta", "salon", "haircut", "colour", "monday", "friday", "promo", "styling", "wash"]
    tails = []
    for i in range(997):
        note = TRICKY[i % len(TRICKY)] if i % 3 == 0 else " ".join(rnd.choices(words, k=rnd.randint(3, 20)))
        tails.append(
            b"%s,%s,%s,%d.%02d,'2024-%02d-%02d 10:%02d:00'"
            % (
                esc(f"Customer {i}"),
                esc(f"c{i}@example.test"),
                esc(note),
                rnd.randint(0, 9999),
                rnd.randint(0, 99),
                rnd.randint(1, 12),
                rnd.randint(1, 28),
                rnd.randint(0, 59),
            )
        )
    services = [esc(s) for s in ("cut; wash", "colour 'deluxe'", 'beard "trim"', "perm -- long", "nails # 2")]
    n_customers = int(size * 0.75) // (sum(map(len, tails)) // len(tails) + 9)
    n_appointments = int(size * 0.2) // (sum(map(len, services)) // len(services) + 47)
    blobs = {i: rnd.randbytes(rnd.randint(16, 400)) for i in range(1, 2001)}
    with path.open("wb") as f:
        f.write(HEADER)
        for name, create in TABLES.items():
            f.write(b"\n--\n-- Table structure for table `%s`\n--\n\n" % name.encode())
            f.write(b"DROP TABLE IF EXISTS `%s`;\n%s;\n" % (name.encode(), create.encode()))
        f.write(b"\nLOCK TABLES `customers` WRITE;\n/*!40000 ALTER TABLE `customers` DISABLE KEYS */;\n")
        f.writelines(_inserts("customers", (b"(%d,%s)" % (i, tails[i % 997]) for i in range(1, n_customers + 1))))
        f.write(b"/*!40000 ALTER TABLE `customers` ENABLE KEYS */;\nUNLOCK TABLES;\n")
        rows = (
            b"(%d,%d,'2025-01-%02d 09:00:00',%s,'%s')"
            % (i, i % n_customers + 1, i % 28 + 1, services[i % 5], (b"booked", b"done", b"cancelled")[i % 3])
            for i in range(1, n_appointments + 1)
        )
        f.writelines(_inserts("appointments", rows))
        f.writelines(_inserts("attachments", (b"(%d,%s)" % (i, esc(b)) for i, b in blobs.items()), 200_000))
        f.write(ODD_ROWS)
        f.write(ROUTINES)
        f.write(TRAILER)
    counts = {"customers": n_customers, "appointments": n_appointments, "attachments": len(blobs), "odd_rows": 5}
    return Dump(path, counts, blobs, path.stat().st_size)
