"""The mysql tests' session fixtures: one database (and its user) and one >50 MB dump per session.

A plugin, not a module to import: the mysql test modules load it with
``pytest_plugins = ["mysql_fixtures"]``, so they share one instance of each.
"""

from __future__ import annotations

import gzip
import secrets
import shutil
import zipfile
from pathlib import Path

import pytest
from mysql_dump import Dump, write_dump
from mysql_support import Db, root

BIG = 52 * 1000 * 1000


@pytest.fixture(scope="session")
def big_dump(tmp_path_factory) -> dict[str, Path | Dump]:
    """The >50 MB dump in every format, made once per session."""
    base = tmp_path_factory.mktemp("dumps")
    dump = write_dump(base / "big.sql", BIG)
    assert dump.size >= 50 * 1000 * 1000
    gz = base / "big.sql.gz"
    with dump.sql.open("rb") as src, gzip.open(gz, "wb", compresslevel=1) as out:
        shutil.copyfileobj(src, out, 1 << 20)
    archive = base / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("salonmanager/storage/app/public/logo.txt", "files of the app\n")
        z.write(dump.sql, "db-dumps/mysql-salonmanager.sql")
    return {"dump": dump, "sql": dump.sql, "sql.gz": gz, "zip": archive}


@pytest.fixture(scope="session")
def db() -> Db:
    token = secrets.token_hex(4)
    found = Db(f"wr_mysql_{token}", f"wr_mysql_{token}", f"pw-{secrets.token_urlsafe(12)}'\";")
    conn = root()
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (found.user, found.password))
        cur.execute(f"GRANT ALL ON `{found.name}`.* TO %s@'%%'", (found.user,))
    conn.close()
    yield found
    conn = root()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{found.name}`")
        cur.execute("DROP USER IF EXISTS %s@'%%'", (found.user,))
    conn.close()
