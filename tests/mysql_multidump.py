"""A mysqldump-style dump of many tables, for the parallel restore's tests and benchmark.

As mysqldump lays it out: the session prologue (foreign-key checks off), then per table its
DROP/CREATE, LOCK TABLES, extended INSERTs, UNLOCK, and right after the table its triggers; then
the routines and views. Tables ``t1``.. reference ``t0`` by foreign key; ``t1`` has a trigger
that writes into ``audit`` (another table), ``t0_t1`` is a view over two tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from mysql_dump import HEADER, TRAILER, TRICKY, _inserts, esc

TABLE = """CREATE TABLE `{name}` (
  `id` int(11) NOT NULL,
  `parent_id` int(11) DEFAULT NULL,
  `note` text NOT NULL,
  `amount` decimal(10,2) NOT NULL,
  `data` blob,
  PRIMARY KEY (`id`){fk}
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
FK = ",\n  KEY `parent` (`parent_id`),\n  CONSTRAINT `{name}_fk` FOREIGN KEY (`parent_id`) REFERENCES `t0` (`id`)"
AUDIT = """CREATE TABLE `audit` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `what` varchar(100) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
TRIGGER = b"""/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER `t1_ai` AFTER INSERT ON `t1`
FOR EACH ROW BEGIN
  INSERT INTO `audit` (`what`) VALUES (CONCAT('t1 row ', NEW.id, '; added'));
END */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
"""
TAIL = b"""DELIMITER ;;
CREATE DEFINER=CURRENT_USER FUNCTION `total`() RETURNS decimal(20,2)
    READS SQL DATA
BEGIN
  RETURN (SELECT SUM(`amount`) FROM `t0`);
END ;;
DELIMITER ;
/*!50001 DROP VIEW IF EXISTS `t0_t1` */;
/*!50001 CREATE VIEW `t0_t1` AS SELECT `a`.`id` AS `id`, `b`.`note` AS `note` FROM (`t0` `a` JOIN `t1` `b`
  ON (`b`.`parent_id` = `a`.`id`)) */;
"""


@dataclass
class MultiDump:
    sql: Path
    counts: dict[str, int]
    size: int


def write_multidump(path: Path, size: int, *, tables: int = 8, seed: int = 11, header: bytes = HEADER) -> MultiDump:
    """About ``size`` bytes over ``tables`` tables (uneven: the first ones are bigger)."""
    rnd = random.Random(seed)
    weights = [1.0 / (1 + i * 0.3) for i in range(tables)]
    shares = [w / sum(weights) for w in weights]
    counts: dict[str, int] = {}
    parents = max(10, int(size * shares[0]) // 60)
    with path.open("wb") as f:
        f.write(header)
        for i in range(tables):
            name = f"t{i}"
            rows = parents if i == 0 else max(5, int(size * shares[i]) // 60)
            counts[name] = rows
            create = TABLE.format(name=name, fk=FK.format(name=name) if i else "")
            f.write(b"\n--\n-- Table structure for table `%s`\n--\n\n" % name.encode())
            f.write(b"DROP TABLE IF EXISTS `%s`;\n" % name.encode())
            f.write(b"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n")
            f.write(b"/*!40101 SET character_set_client = utf8 */;\n")
            f.write(create.encode() + b";\n/*!40101 SET character_set_client = @saved_cs_client */;\n")
            f.write(
                b"\nLOCK TABLES `%s` WRITE;\n/*!40000 ALTER TABLE `%s` DISABLE KEYS */;\n"
                % (name.encode(), name.encode())
            )
            f.writelines(_inserts(name, (_row(rnd, i, n, parents) for n in range(1, rows + 1))))
            f.write(b"/*!40000 ALTER TABLE `%s` ENABLE KEYS */;\nUNLOCK TABLES;\n" % name.encode())
            if i == 1:
                f.write(TRIGGER)
        f.write(b"DROP TABLE IF EXISTS `audit`;\n" + AUDIT.encode() + b";\n")
        counts["audit"] = 0
        f.write(TAIL)
        f.write(TRAILER)
    return MultiDump(path, counts, path.stat().st_size)


def _row(rnd: random.Random, table: int, n: int, parents: int) -> bytes:
    note = TRICKY[n % len(TRICKY)] if n % 7 == 0 else f"row {n} of t{table}"
    parent = b"NULL" if table == 0 else b"%d" % (n % parents + 1)
    data = esc(rnd.randbytes(24)) if n % 5 == 0 else b"NULL"
    return b"(%d,%s,%s,%d.%02d,%s)" % (n, parent, esc(note + " " * (n % 40)), n % 9999, n % 100, data)
