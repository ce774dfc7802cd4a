"""Where each statement of a dump may run in a parallel restore (no database needed)."""

from __future__ import annotations

import pytest

from actions.mysql.sql_route import BARRIER, SESSION, SKIP, TABLE, UNSAFE, Router
from actions.mysql.sql_split import split

PROLOGUE = b"""/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
"""


def routes(sql: bytes) -> list[tuple[str, str]]:
    router = Router()
    return [(r.kind, r.table or r.reason) for r in map(router.route, split([PROLOGUE + sql]))][2:]


def test_mysqldumps_table_section_stays_on_the_tables_connection():
    sql = b"""DROP TABLE IF EXISTS `Orders`;
/*!40101 SET character_set_client = utf8 */;
CREATE TABLE `Orders` (`id` int, `c` int, CONSTRAINT `f` FOREIGN KEY (`c`) REFERENCES `customers` (`id`));
LOCK TABLES `Orders` WRITE;
/*!40000 ALTER TABLE `Orders` DISABLE KEYS */;
INSERT INTO `Orders` VALUES (1,1),(2,'SELECT ; x');
/*!40000 ALTER TABLE `Orders` ENABLE KEYS */;
UNLOCK TABLES;
TRUNCATE TABLE `orders`;
"""
    assert routes(sql) == [
        (TABLE, "orders"),
        (SESSION, ""),
        (TABLE, "orders"),
        (SKIP, "orders"),
        (TABLE, "orders"),
        (TABLE, "orders"),
        (TABLE, "orders"),
        (SKIP, "orders"),
        (TABLE, "orders"),
    ]


def test_triggers_and_view_stand_ins_stay_on_a_connection_of_their_own_object():
    sql = b"""/*!50001 DROP VIEW IF EXISTS `V`*/;
/*!50001 CREATE VIEW `v` AS SELECT
 1 AS `a`,
 NULL AS `b` */;
/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`%`*/ /*!50003 TRIGGER `t_bi` BEFORE INSERT ON `t`
FOR EACH ROW SET NEW.a = 1 */;
"""
    assert routes(sql) == [(TABLE, "v"), (TABLE, "v"), (TABLE, "t")]


@pytest.mark.parametrize(
    "sql",
    [
        b"/*!50001 CREATE VIEW `v` AS SELECT 1 AS `a` FROM `t` */;",
        b"/*!50001 CREATE VIEW `v` AS SELECT `total`() AS `a` */;",
        b"/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50001 VIEW `v` AS select `t`.`a` AS `a` from `t` */;",
        b"DROP VIEW IF EXISTS `v`, `w`;",
        b"INSERT INTO `t` SELECT * FROM `u`;",
        b"INSERT INTO `t` VALUES ((SELECT MAX(id) FROM `u`));",
        b"CREATE TABLE `t` LIKE `u`;",
        b"DROP TABLE IF EXISTS `t`, `u`;",
        b"ALTER TABLE `t` ADD CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `u` (`id`);",
        b"UPDATE `t` SET a = 1;",
        b"SET GLOBAL max_connections = 10;",
    ],
)
def test_what_reads_or_writes_other_tables_runs_alone(sql):
    assert routes(sql) == [(BARRIER, "")]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (b"LOCK TABLES `t` WRITE, `u` READ;", "LOCK TABLES spans several tables"),
        (b"START TRANSACTION;", "transactions belong to one session"),
        (b"SET autocommit=0;", "turns autocommit off"),
        (b"CREATE TEMPORARY TABLE `x` (a int);", "TEMPORARY"),
        (b"SET @n = (SELECT COUNT(*) FROM `t`);", "from a query"),
        (b"SELECT @n := 1;", "from a query"),
        (b"LOCK TABLES `t` WRITE;\nINSERT INTO `u` VALUES (1);", "while LOCK TABLES holds `t`"),
        (b"SET FOREIGN_KEY_CHECKS=1;\nCREATE TABLE `c` (`p` int REFERENCES `t` (`id`));", "foreign-key checks"),
        (
            b"CREATE TRIGGER `x` AFTER INSERT ON `t` FOR EACH ROW DELETE FROM `u`;\nINSERT INTO `t` VALUES (1);",
            "after a trigger on it",
        ),
    ],
)
def test_what_one_session_would_see_differently_is_unsafe(sql, reason):
    found = routes(sql)[-1]
    assert found[0] == UNSAFE and reason in found[1], found
