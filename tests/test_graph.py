"""`Graph`: topological order, cycles and dbt-style selection, on hand-made nodes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from toolkit.errors import ProjectError
from toolkit.project.graph import Graph
from toolkit.project.nodes import Materialization, Node, NodeKind


def node(name: str, refs: tuple[str, ...] = (), tags: tuple[str, ...] = (), folder: str = "models") -> Node:
    relative = Path(folder) / f"{name}.sql"
    return Node(
        name=name,
        path=Path("/project") / relative,
        relative_path=relative,
        kind=NodeKind.MODEL,
        materialized=Materialization.TABLE,
        schema="main",
        tags=tuple(tags),
        depends_on=tuple(refs),
        sources=(),
        sql="select 1",
    )


def graph(*nodes: Node) -> Graph:
    return Graph({n.name: n for n in nodes})


def flights_graph() -> Graph:
    """stg_flights, stg_planes (staging/) → flights_enriched (marts/) → daily_report, plane_stats (marts/reports/)."""
    return graph(
        node("stg_flights", tags=("staging", "daily"), folder="models/staging"),
        node("stg_planes", tags=("staging",), folder="models/staging"),
        node("flights_enriched", ("stg_flights", "stg_planes"), tags=("mart",), folder="models/marts"),
        node("daily_report", ("flights_enriched",), tags=("daily",), folder="models/marts/reports"),
        node("plane_stats", ("stg_planes",), folder="models/marts/reports"),
        node("lonely", folder="models/misc"),
    )


def select_error(*select: str, exclude: tuple[str, ...] = ()) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        flights_graph().select(select, exclude)
    return info.value


# --- order -----------------------------------------------------------------------------------------


def test_order_goes_in_waves_with_ties_broken_by_name():
    assert flights_graph().order() == [
        "lonely",
        "stg_flights",
        "stg_planes",
        "flights_enriched",
        "plane_stats",
        "daily_report",
    ]


def test_order_puts_every_node_after_the_nodes_it_refs():
    g = flights_graph()
    order = g.order()
    assert sorted(order) == sorted(g.nodes)
    for name, n in g.nodes.items():
        for parent in n.depends_on:
            assert order.index(parent) < order.index(name)


def test_order_breaks_ties_by_name():
    assert graph(node("c"), node("a"), node("b")).order() == ["a", "b", "c"]


def test_order_is_the_same_whatever_the_insertion_order():
    nodes = [node("y"), node("b"), node("a", ("y",)), node("z", ("a", "b"))]
    orders = {tuple(graph(*permutation).order()) for permutation in itertools.permutations(nodes)}
    assert orders == {("b", "y", "a", "z")}


def test_order_of_a_chain_follows_refs_not_names():
    assert graph(node("a", ("b",)), node("b", ("c",)), node("c")).order() == ["c", "b", "a"]


def test_order_of_a_subset_keeps_the_full_order():
    assert flights_graph().order(["daily_report", "stg_flights", "lonely"]) == ["lonely", "stg_flights", "daily_report"]


def test_order_returns_a_copy():
    g = flights_graph()
    g.order().clear()
    assert len(g.order()) == 6


def test_empty_graph_has_empty_order():
    assert Graph({}).order() == []
    assert Graph({}).select() == []


# --- cycles ----------------------------------------------------------------------------------------


def test_cycle_is_a_project_error_with_the_whole_path():
    with pytest.raises(ProjectError) as info:
        graph(node("a", ("c",)), node("b", ("a",)), node("c", ("b",)), node("d"))
    message = info.value.message
    assert "cycle" in message
    path = message.split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert set(path) == {"a", "b", "c"}
    assert path[0] == path[-1]
    assert len(path) == 4
    refs = {"a": "c", "b": "a", "c": "b"}
    for here, following in zip(path, path[1:]):
        assert refs[here] == following  # each node refs the next


def test_cycle_hint_names_every_file_of_the_cycle_only():
    with pytest.raises(ProjectError) as info:
        graph(node("a", ("b",)), node("b", ("a",)), node("outside", ("a",)))
    hint = info.value.hint or ""
    assert str(Path("models/a.sql")) in hint and str(Path("models/b.sql")) in hint
    assert "outside" not in hint


def test_self_ref_is_a_cycle():
    with pytest.raises(ProjectError) as info:
        graph(node("a", ("a",)))
    assert "a -> a" in info.value.message


# --- selection by name -----------------------------------------------------------------------------


def test_no_selector_selects_everything_in_order():
    g = flights_graph()
    assert g.select() == g.order()


def test_name_selects_just_that_node():
    assert flights_graph().select(["flights_enriched"]) == ["flights_enriched"]


def test_explicit_name_method():
    assert flights_graph().select(["name:lonely"]) == ["lonely"]


def test_plus_before_name_adds_ancestors():
    assert flights_graph().select(["+daily_report"]) == ["stg_flights", "stg_planes", "flights_enriched", "daily_report"]


def test_plus_after_name_adds_descendants():
    assert flights_graph().select(["stg_planes+"]) == ["stg_planes", "flights_enriched", "plane_stats", "daily_report"]


def test_plus_on_both_sides_adds_ancestors_and_descendants():
    assert flights_graph().select(["+flights_enriched+"]) == [
        "stg_flights",
        "stg_planes",
        "flights_enriched",
        "daily_report",
    ]


def test_names_are_case_insensitive():
    assert flights_graph().select(["STG_Flights+"]) == ["stg_flights", "flights_enriched", "daily_report"]


def test_several_selectors_in_one_argument():
    assert flights_graph().select(["lonely  plane_stats"]) == ["lonely", "plane_stats"]


def test_selectors_across_arguments_are_a_union():
    assert flights_graph().select(["lonely", "+plane_stats"]) == ["lonely", "stg_planes", "plane_stats"]


def test_overlapping_selectors_do_not_duplicate():
    assert flights_graph().select(["+daily_report", "stg_flights+"]) == [
        "stg_flights",
        "stg_planes",
        "flights_enriched",
        "daily_report",
    ]


# --- selection by tag and path ---------------------------------------------------------------------


def test_tag_selects_every_tagged_node():
    assert flights_graph().select(["tag:daily"]) == ["stg_flights", "daily_report"]


def test_tag_with_descendants():
    assert flights_graph().select(["tag:mart+"]) == ["flights_enriched", "daily_report"]


def test_tag_with_ancestors():
    assert flights_graph().select(["+tag:mart"]) == ["stg_flights", "stg_planes", "flights_enriched"]


def test_path_selects_nodes_under_the_folder_recursively():
    assert flights_graph().select(["path:models/marts"]) == ["flights_enriched", "plane_stats", "daily_report"]


def test_path_with_trailing_slash_is_the_same():
    g = flights_graph()
    assert g.select(["path:models/marts/"]) == g.select(["path:models/marts"])


def test_path_matches_whole_folder_names_not_prefixes():
    g = graph(node("a", folder="models/sub"), node("b", folder="models/subway"))
    assert g.select(["path:models/sub"]) == ["a"]


def test_path_can_name_a_single_file():
    assert flights_graph().select(["path:models/staging/stg_planes.sql"]) == ["stg_planes"]


def test_path_with_ancestors():
    assert flights_graph().select(["+path:models/marts/reports"]) == [
        "stg_flights",
        "stg_planes",
        "flights_enriched",
        "plane_stats",
        "daily_report",
    ]


# --- exclude ---------------------------------------------------------------------------------------


def test_exclude_removes_nodes_from_everything():
    selected = flights_graph().select(exclude=["tag:staging"])
    assert selected == ["lonely", "flights_enriched", "plane_stats", "daily_report"]


def test_exclude_removes_nodes_from_the_selection():
    assert flights_graph().select(["+daily_report"], ["stg_flights stg_planes"]) == ["flights_enriched", "daily_report"]


def test_exclude_with_graph_operators():
    assert flights_graph().select(["stg_planes+"], ["flights_enriched+"]) == ["stg_planes", "plane_stats"]


def test_exclude_everything_selected_gives_nothing():
    assert flights_graph().select(["lonely"], ["LONELY"]) == []


# --- selection errors ------------------------------------------------------------------------------


def test_unknown_name_suggests_the_closest():
    error = select_error("stg_flight")
    assert 'no node named "stg_flight"' in error.message
    assert 'did you mean "stg_flights"' in error.message


def test_unknown_name_in_exclude_is_an_error():
    assert "nope" in select_error(exclude=("nope",)).message


def test_unknown_tag_suggests_the_closest():
    error = select_error("tag:dialy")
    assert 'no node has tag "dialy"' in error.message
    assert 'did you mean "daily"' in error.message


def test_unknown_path_is_an_error():
    error = select_error("path:models/nowhere")
    assert 'no model file under "models/nowhere"' in error.message
    assert 'did you mean "models/staging"' in select_error("path:models/stagin").message
    assert 'did you mean "models/marts/reports"' in select_error("path:models/marts/report/").message


def test_unknown_method_suggests_the_closest():
    error = select_error("tga:daily")
    assert 'unknown selector method "tga"' in error.message
    assert 'did you mean "tag"' in error.message
    assert error.hint and "tag:x" in error.hint


def test_one_bad_selector_among_good_ones_is_an_error():
    assert "nope" in select_error("lonely nope").message


# --- resolve, ancestors, descendants ---------------------------------------------------------------


def test_resolve_returns_the_nodes_spelling():
    g = graph(node("Stg_Flights"))
    assert g.resolve("stg_flights") == "Stg_Flights"
    assert g.resolve("STG_FLIGHTS") == "Stg_Flights"
    assert g.resolve("Stg_Flights") == "Stg_Flights"


def test_resolve_unknown_name_suggests_the_closest():
    with pytest.raises(ProjectError) as info:
        flights_graph().resolve("daily_reprt")
    assert 'did you mean "daily_report"' in info.value.message


def test_resolve_unknown_name_far_from_all_has_no_suggestion():
    with pytest.raises(ProjectError) as info:
        flights_graph().resolve("zzz")
    assert "did you mean" not in info.value.message


def test_ancestors_and_descendants_are_transitive():
    g = flights_graph()
    assert g.ancestors("daily_report") == {"flights_enriched", "stg_flights", "stg_planes"}
    assert g.descendants("stg_flights") == {"flights_enriched", "daily_report"}
    assert g.ancestors("lonely") == set() == g.descendants("lonely")
