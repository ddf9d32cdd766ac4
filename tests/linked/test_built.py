"""The one way the web reads what the stages built (openphm.linked.built): names checked
against the table, values bound, one short read at a time that leaves the zone free to be
written between reads."""

from __future__ import annotations

import pytest

from openphm.engine import EngineError
from openphm.linked import built


@pytest.fixture
def counted(workspace):
    con = workspace.connect_linked()
    con.execute(
        "CREATE TABLE linked.figures_x AS SELECT * FROM (VALUES ('imd_decile', '1', 40), "
        "('imd_decile', '2', 35), ('practice', 'P1', 50), ('practice', 'P2', 25)) "
        'AS t(grouping, "group", people)'
    )
    con.close()
    return workspace


def test_a_read_takes_names_and_values_and_no_sql(counted):
    rows = built.read(counted, "figures_x", columns=["group", "people"],
                      where={"grouping": "practice"}, order_by=["-people"])  # fmt: skip
    assert rows.to_dict("list") == {"group": ["P1", "P2"], "people": [50, 25]}
    some = built.read(counted, "figures_x", where={"group": ["1", "P2"]}, order_by=["group"])
    assert some["group"].tolist() == ["1", "P2"]
    assert len(built.read(counted, "figures_x", limit=1)) == 1
    quoted = built.read(counted, "figures_x", where={"grouping": "x' OR '1'='1"})
    assert quoted.empty  # a value is bound, never spliced into the query


def test_an_unknown_name_is_refused_and_a_missing_table_is_not_built(counted):
    with pytest.raises(ValueError, match="no column 'people; DROP TABLE'"):
        built.read(counted, "figures_x", columns=["people; DROP TABLE"])
    with pytest.raises(ValueError, match="no column"):
        built.read(counted, "figures_x", order_by=["-nothing"])
    with pytest.raises(built.NotBuilt, match="run phm analyse"):
        built.read(counted, "figures_y", missing="run phm analyse")


def test_the_zone_can_be_written_between_reads_and_a_read_is_not_nested(counted):
    built.read(counted, "figures_x")
    con = counted.connect_linked()  # read-write: the read let go of the file
    con.execute("INSERT INTO linked.figures_x VALUES ('practice', 'P3', 10)")
    con.close()
    assert len(built.read(counted, "figures_x")) == 5
    nested = pytest.raises(EngineError, match="already being read")
    with counted.reading_linked(), nested, counted.reading_linked():
        pass
    assert len(built.read(counted, "figures_x")) == 5  # and the lock was let go
