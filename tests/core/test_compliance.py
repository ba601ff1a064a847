"""GDPR, HIPAA and SOX among the compliance frameworks: each control says what the probes
establish and what they cannot, and is judged on the probes that ran."""

from __future__ import annotations

import pytest

from mockloop import ConfigError
from mockloop.security.compliance import FRAMEWORKS, compliance_reports, resolve_frameworks
from mockloop.security.findings import Finding, ProbeStatus


def test_gdpr_hipaa_and_sox_resolve_with_their_aliases() -> None:
    assert resolve_frameworks(["gdpr", "HIPAA", "sarbanes-oxley", "sox"]) == [
        "GDPR",
        "HIPAA",
        "SOX",
    ]
    with pytest.raises(ConfigError, match=r"known: .*GDPR, HIPAA, SOX"):
        resolve_frameworks(["ccpa"])


@pytest.mark.parametrize("framework", ["GDPR", "HIPAA", "SOX"])
def test_every_control_says_what_probes_establish_and_cannot(framework: str) -> None:
    _, controls = FRAMEWORKS[framework]
    assert len(controls) >= 5
    for control in controls:
        assert control.established() and control.not_covered, control.id
        assert control.established() != control.not_covered


def test_legal_obligations_are_named_as_out_of_reach() -> None:
    gdpr = {c.id: c for c in FRAMEWORKS["GDPR"][1]}
    assert "lawful basis" in gdpr["Art. 32(1)(b)"].not_covered
    assert "retention" in gdpr["Art. 32(1)(b)"].not_covered
    hipaa = {c.id: c for c in FRAMEWORKS["HIPAA"][1]}
    assert hipaa["164.312(b)"].families == ()  # audit logs: no probe can see them
    assert "TLS" in hipaa["164.312(e)(1)"].not_covered
    sox = {c.id: c for c in FRAMEWORKS["SOX"][1]}
    assert sox["Sec. 404(a)"].families == ()


def _probe(family: str, status: str = "tested") -> ProbeStatus:
    return ProbeStatus(
        probe=f"{family}.x",
        family=family,
        category="-",
        title="-",
        status=status,  # type: ignore[arg-type]
    )


def test_controls_are_judged_on_the_probes_that_ran() -> None:
    families = ["authentication", "object_authorization", "function_authorization"]
    families += ["property_authorization", "injection", "misconfiguration"]
    probes = [_probe(f) for f in families]
    # Only a finding's id and family count for compliance.
    finding = Finding.model_construct(id="F1", family="authentication")
    (gdpr, hipaa) = compliance_reports(["GDPR", "HIPAA"], [finding], probes)
    controls = {c.control: c for c in gdpr.controls}
    assert controls["Art. 32(1)(b)"].status == "failed"
    assert controls["Art. 32(1)(b)"].findings == ["F1"]
    assert controls["Art. 32(1)(b)"].establishes.startswith("whether the API refuses")
    assert controls["Art. 32(1)(b) availability"].status == "not_tested"
    assert controls["Art. 25"].status == "passed"
    audit = {c.control: c for c in hipaa.controls}["164.312(b)"]
    assert audit.status == "not_tested" and audit.establishes.startswith("nothing")
