#!/usr/bin/env python3
"""The systemd unit and sysusers file in packaging/: the service runs as the
static user pilot, which can read a root:pilot 0640 config file, and
systemd accepts the unit."""
import os
import shutil
import subprocess

from harness import SOURCE_DIR, binary, make_temp_dir, run

UNIT = os.path.join(SOURCE_DIR, "packaging", "pilot-daemon.service")
SYSUSERS = os.path.join(SOURCE_DIR, "packaging", "pilot.sysusers")


def unit_settings():
    """Returns the unit's (key, value) pairs in order, without comments."""
    with open(UNIT, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    return [tuple(line.split("=", 1)) for line in lines
            if "=" in line and not line.startswith("#")]


def test_unit_runs_as_static_user():
    settings = unit_settings()
    keys = [key for key, _ in settings]
    assert ("User", "pilot") in settings, settings
    assert ("Group", "pilot") in settings, settings
    # A dynamic user cannot read a config file that root owns.
    assert "DynamicUser" not in keys
    assert ("StateDirectoryMode", "0700") in settings
    assert ("UMask", "0077") in settings
    assert ("ProtectSystem", "strict") in settings


def test_sysusers_creates_the_user():
    with open(SYSUSERS, encoding="utf-8") as f:
        entries = [line.split() for line in f
                   if line.strip() and not line.startswith("#")]
    users = [e for e in entries if e[0] == "u" and e[1] == "pilot"]
    assert len(users) == 1, entries
    assert users[0][-1] == "/var/lib/pilot", users[0]


def test_unit_passes_systemd_analyze():
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing; install systemd"
    # verify checks that ExecStart is executable, so point it at the build.
    directory = make_temp_dir()
    with open(UNIT, encoding="utf-8") as f:
        text = f.read().replace("/usr/bin/pilot-daemon",
                                os.path.abspath(binary("pilot-daemon")))
    copy = os.path.join(directory, "pilot-daemon.service")
    with open(copy, "w", encoding="utf-8") as f:
        f.write(text)
    done = subprocess.run([analyze, "verify", "--man=no", copy],
                          capture_output=True, timeout=60)
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, output
    assert "pilot-daemon.service" not in output, output


if __name__ == "__main__":
    run([
        test_unit_runs_as_static_user,
        test_sysusers_creates_the_user,
        test_unit_passes_systemd_analyze,
    ])
