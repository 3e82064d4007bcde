"""Solver and backend configs agree with their ``Params`` dataclasses, and variants state only
what differs from the config they extend.

Every config, as Hydra composes it for a run, must name every field of its class's ``Params``
(so that ``solver.FIELD=...`` overrides are discoverable in the YAML) with the dataclass default,
unless the difference is deliberate and listed in :data:`DELIBERATE` with its reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from omegaconf import OmegaConf

from qbench import registry
from qbench.params import to_plain
from tests.helpers import compose_config

NOT_PARAMETERS = ("_target_", "name")

#: (group, config, field) -> (value in the config, why it differs from the dataclass default).
DELIBERATE: dict[tuple[str, str, str], tuple[Any, str]] = {
    ("backend", "aer_gpu", "device"): ("GPU", "aer_gpu is aer on the GPU; AerParams defaults to the CPU"),
    ("backend", "aer_mps", "method"): ("matrix_product_state",
                                       "aer_mps is aer with the MPS method; AerParams defaults to statevector"),
}

#: Configs that extend another config of their group (its defaults list), and which one.
VARIANTS = {
    ("solver", "ws_qaoa"): "qaoa",
    ("solver", "ma_qaoa"): "qaoa",
    ("solver", "cvar_vqe"): "vqe",
    ("backend", "aer_gpu"): "aer",
    ("backend", "aer_mps"): "aer",
}

CONFIGS = [(group, name) for group in ("solver", "backend") for name in registry.choices(group)]


def composed(group: str, name: str) -> dict[str, Any]:
    """The config node ``group`` of a run with ``group=name``, as Hydra composes it."""
    return to_plain(compose_config(f"{group}={name}")[group])


def field_defaults(params: type) -> dict[str, Any]:
    defaults = {}
    for f in dataclasses.fields(params):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory()
        else:
            pytest.fail(f"{params.__name__}.{f.name} has no default; every config field needs one")
    return defaults


def same(a: Any, b: Any) -> bool:
    """Equal values; true/false never equal to 1/0."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def own_body(group: str, name: str) -> tuple[list, dict[str, Any]]:
    """The defaults list and the other keys written in ``conf/<group>/<name>.yaml`` itself."""
    body = OmegaConf.to_container(OmegaConf.load(registry.CONF_DIR / group / f"{name}.yaml"))
    return body.pop("defaults", []), body


@pytest.mark.parametrize("group,name", CONFIGS, ids=[f"{g}/{n}" for g, n in CONFIGS])
def test_config_names_every_field_with_its_dataclass_default(group, name):
    cfg = composed(group, name)
    assert cfg["name"] == name
    params = registry.load_target(cfg["_target_"]).Params
    defaults = field_defaults(params)
    values = {k: v for k, v in cfg.items() if k not in NOT_PARAMETERS}
    missing = sorted(set(defaults) - set(values))
    unknown = sorted(set(values) - set(defaults))
    assert not missing, f"{group}/{name}.yaml lacks {params.__name__} field(s) {missing}"
    assert not unknown, f"{group}/{name}.yaml has keys {unknown} that {params.__name__} does not"
    for field, value in values.items():
        deliberate = DELIBERATE.get((group, name, field))
        if deliberate is None:
            assert same(value, defaults[field]), (
                f"{group}/{name}.yaml: {field}={value!r} but {params.__name__} defaults to "
                f"{defaults[field]!r}; change one, or list the difference in DELIBERATE")
        else:
            expected, reason = deliberate
            assert reason and same(value, expected), f"{group}/{name}.yaml: {field}={value!r}, DELIBERATE says {expected!r}"
            assert not same(value, defaults[field]), f"DELIBERATE {group}/{name}.{field} is no difference"


def test_every_deliberate_difference_names_a_config_field():
    for group, name, field in DELIBERATE:
        assert field in composed(group, name), f"DELIBERATE names {group}/{name}.{field}, which does not exist"


@pytest.mark.parametrize("group,name", sorted(VARIANTS), ids=[f"{g}/{n}" for g, n in sorted(VARIANTS)])
def test_variant_extends_its_base_and_writes_only_the_difference(group, name):
    defaults, body = own_body(group, name)
    base = VARIANTS[(group, name)]
    assert defaults == [base, "_self_"], f"{group}/{name}.yaml should start with defaults: [{base}, _self_]"
    inherited = composed(group, base)
    restated = sorted(k for k, v in body.items()
                      if k not in NOT_PARAMETERS and k in inherited and same(v, inherited[k]))
    assert not restated, f"{group}/{name}.yaml restates {restated} with the values of {group}/{base}.yaml"
    assert composed(group, name) == {**inherited, **body}


def test_a_variant_takes_a_changed_base_default_and_command_line_overrides(tmp_path):
    """The point of inheritance: a setting lives in one file. A copy of the solver configs with
    qaoa.yaml changed shows the change in ws_qaoa; command-line overrides still reach it."""
    import shutil

    from hydra import compose, initialize_config_dir

    conf = tmp_path / "conf"
    shutil.copytree(registry.CONF_DIR, conf, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    qaoa = conf / "solver" / "qaoa.yaml"
    qaoa.write_text(qaoa.read_text().replace("reps: 2", "reps: 5"))
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        assert compose(config_name="config", overrides=["solver=ws_qaoa"]).solver.reps == 5
        cfg = compose(config_name="config", overrides=["solver=ws_qaoa", "solver.reps=3", "solver.epsilon=0.1"])
    assert (cfg.solver.reps, cfg.solver.epsilon, cfg.solver.name) == (3, 0.1, "ws_qaoa")
