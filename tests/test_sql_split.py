"""The dump splitter and the row census on their own, on hand-made dumps."""

from __future__ import annotations

from pathlib import Path

import pytest
from mysql_support import SOCKET

from actions.mysql.sql_census import Census, count_rows
from actions.mysql.sql_split import DumpError, split

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(not Path(SOCKET).exists(), reason="MariaDB not running: run ./scripts/setup-services"),
]


TRICKY_DUMP = rb"""-- MariaDB dump
/*!40101 SET NAMES utf8mb4 */;
# hash comment ; with 'quote
INSERT INTO `t` VALUES (1,'it\'s; -- no'),(2,"a\"b;"),(3,'/* x */'),(4,'#;'); -- trailing ; 'x
/* plain ; comment */ SELECT 1 - -1, 5--3, 2/3;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';;'; SET @b = 1; END */;;
DELIMITER ;
DELIMITER //
CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 1/2; END//
DELIMITER ;
SELECT `we;ird``x`;
-- Dump completed
"""


def test_splitter_is_the_same_whatever_the_chunk_boundaries():
    whole = [(s.number, s.line, s.text) for s in split([TRICKY_DUMP])]
    assert [t for _, _, t in whole] == [
        b"/*!40101 SET NAMES utf8mb4 */",
        b"INSERT INTO `t` VALUES (1,'it\\'s; -- no'),(2,\"a\\\"b;\"),(3,'/* x */'),(4,'#;')",
        b"SELECT 1 - -1, 5--3, 2/3",
        b"/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';;'; "
        b"SET @b = 1; END */",
        b"CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 1/2; END",
        b"SELECT `we;ird``x`",
    ]
    assert [line for _, line, _ in whole] == [2, 4, 5, 7, 10, 12]
    for size in (1, 2, 3, 5, 8, 13, 64):
        chunks = [TRICKY_DUMP[i : i + size] for i in range(0, len(TRICKY_DUMP), size)]
        assert [(s.number, s.line, s.text) for s in split(chunks)] == whole, size


@pytest.mark.parametrize(
    ("text", "number", "reason"),
    [
        (b"SELECT 1;\nINSERT INTO t VALUES ('abc", 2, "ends inside a quoted string opened on line 2"),
        (b"SELECT 1;\nSELECT 2;\nINSERT INTO t VALUES (1),(2)", 3, "ends before this statement's ';'"),
        (b"SELECT 1;\n/*!40101 SET x=1 */;\nSELECT /* open", 3, "ends inside a comment"),
        (b"SELECT 1;\nDELIMITER ;;\nSELECT 2;", 2, "ends before this statement's ';;'"),
    ],
)
def test_torn_dumps_name_statement_and_reason(text, number, reason):
    with pytest.raises(DumpError) as info:
        list(split([text]))
    assert info.value.number == number and reason in str(info.value)


def test_census_counts_rows_per_table_and_refuses_other_databases():
    text = b"""CREATE TABLE `a` (x int);
INSERT INTO `a` VALUES (1),(2),('x(y'),(POINT(1,2));
INSERT IGNORE INTO a (`x`,y) VALUES (1,'a'),(2,'b');
INSERT INTO `b` SET x=1;
CREATE TABLE b (y int);
INSERT INTO b SELECT * FROM a;
DROP TABLE IF EXISTS `zz`, `c`;
CREATE TABLE d (id int primary key, n int);
INSERT INTO d VALUES (1, 1), (2, 2) ON DUPLICATE KEY UPDATE n = VALUES(n) + 1;
CREATE TABLE e (id int);
INSERT INTO e WITH x AS (SELECT 1) SELECT * FROM x;
INSERT INTO `db`.`e` VALUE (1), (2);
"""
    census = Census("db")
    for stmt in split([text]):
        census.see(stmt)
    assert census.tables == {"a": 6, "b": None, "d": None, "e": None}
    assert count_rows(b" (1,'a),(b'),(2,\"c)\"),(3, CONCAT('(', ')'))") == 3
    with pytest.raises(DumpError) as info:
        for stmt in split([b"SELECT 1;\nUSE `production`;\n"]):
            census.see(stmt)
    assert info.value.number == 2 and "writes into database 'production', not 'db'" in str(info.value)
