"""The Zero to JupyterHub files (hub/kubernetes/) agree with each other and with the course.

No Kubernetes cluster runs here: these checks run the hub's extra configuration from
values.yaml with a stand-in spawner, and read the volume claim and the Dockerfile, so that a
renamed folder, a changed uid function or a mismatched mount is caught before a semester.
The local hub (tests/hub/test_hub.py) runs the rest of the journey for real.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

from te_course import _exchange

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "hub" / "kubernetes"
INSTALLED = Path("/opt/te_course")  # where the Dockerfile puts the build context (a student release plus hub/)


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((K8S / "values.yaml").read_text())


@pytest.fixture(scope="module")
def spawn_hook(values):
    c = Config()
    exec(values["hub"]["extraConfig"]["te-course"], {"c": c})  # as the chart's hub runs it
    return c.KubeSpawner.pre_spawn_hook


def _spawn(hook, name: str):
    spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={"KEEP": "1"}, uid=1000)
    hook(spawner)
    return spawner


def test_every_server_runs_as_the_uid_the_course_checks(spawn_hook):
    for name in ("ann", "ben", "grader-te_course", "a.very-long_name@example.edu"):
        assert _spawn(spawn_hook, name).uid == _exchange.uid_of(name), name
    uids = {_exchange.uid_of(f"student{i:04d}") for i in range(2000)}
    assert len(uids) == 2000 and min(uids) >= _exchange.UID_BASE and max(uids) < 2**31


def test_students_lose_the_instructor_tools_and_instructors_keep_them(spawn_hook, values):
    student = _spawn(spawn_hook, "ann")
    folder = Path(student.environment["JUPYTER_CONFIG_PATH"])
    assert student.environment["KEEP"] == "1", "the hook keeps the spawner's other variables"
    assert (ROOT / "hub" / folder.relative_to(INSTALLED / "hub") / "jupyter_server_config.json").is_file()
    admins = values["hub"]["config"]["Authenticator"]["admin_users"]
    for instructor in admins:
        assert "JUPYTER_CONFIG_PATH" not in _spawn(spawn_hook, instructor).environment


def test_the_exchange_volume_is_shared_and_where_nbgrader_looks(values):
    claim = yaml.safe_load((K8S / "exchange-pvc.yaml").read_text())
    single = values["singleuser"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (volume,) = single["storage"]["extraVolumes"]
    (mount,) = single["storage"]["extraVolumeMounts"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert mount["name"] == volume["name"]
    assert mount["mountPath"] == single["extraEnv"]["TE_COURSE_EXCHANGE"]
    assert single["extraEnv"]["TE_COURSE_OWNERS"] == "uid_of_name"


def test_the_system_wide_config_reads_the_exchange_and_the_owner_check(monkeypatch):
    monkeypatch.setenv("TE_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
    monkeypatch.setenv("TE_COURSE_OWNERS", "uid_of_name")
    c = Config()
    exec((ROOT / "hub" / "system_nbgrader_config.py").read_text(), {"get_config": lambda: c})
    assert c.Exchange.root == "/srv/nbgrader/exchange" and c.CourseDirectory.course_id == "te_course"
    assert _exchange.CheckedCollect(config=c).owners == "uid_of_name"


def test_the_image_installs_what_the_values_point_at():
    docker = (K8S / "Dockerfile").read_text()
    assert re.search(rf"^COPY \. {INSTALLED}$", docker, flags=re.M)
    assert "hub/system_nbgrader_config.py /usr/local/etc/jupyter/nbgrader_config.py" in docker
    assert "binder/requirements.txt" in docker and "jupyterhub==${JUPYTERHUB_VERSION}" in docker
    hub_test = (ROOT / "tests" / "hub" / "test_hub.py").read_text()
    version = re.search(r'JUPYTERHUB = "jupyterhub==([\d.]+)"', hub_test).group(1)
    assert f"ARG JUPYTERHUB_VERSION={version}" in docker, "the image's jupyterhub is the one make test-hub runs"
