"""Preflight names what is missing and the one apt-get line that installs it."""

from __future__ import annotations

from console.lab.preflight import REQUIREMENTS, Requirement, problems


def test_this_machine_has_everything_the_lab_needs() -> None:
    # The Makefile installs APT_PACKAGES; the lab's requirements must be among them.
    assert not [line for line in problems() if line.startswith("missing ")]


def test_missing_binaries_become_one_install_line() -> None:
    reqs = (
        *REQUIREMENTS,
        Requirement("frobnicator", "/nonexistent/frob", "frob-tools"),
        Requirement("frob helper", "/nonexistent/frob-helper", "frob-tools"),
        Requirement("widget", "/nonexistent/widget", "widgetd"),
    )
    lines = problems(reqs)
    assert "missing frobnicator: /nonexistent/frob (Debian package frob-tools)" in lines
    assert lines[-1] == "install with: apt-get install -y frob-tools widgetd"


def test_every_requirement_names_a_package() -> None:
    assert all(r.package and r.path.startswith("/") for r in REQUIREMENTS)
