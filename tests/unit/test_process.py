import subprocess

from vpbx.stack import process


def test_a_stale_pid_file_is_not_running(tmp_path):
    finished = subprocess.Popen(["sleep", "0"])
    finished.wait()
    pidfile = tmp_path / "x.pid"
    pidfile.write_text(f"{finished.pid}\n")

    assert process.running_pid(pidfile, "sleep") is None


def test_a_pid_reused_by_another_program_is_not_ours(tmp_path):
    pidfile = tmp_path / "x.pid"
    pid = process.spawn(["sleep", "30"], pidfile=pidfile, logfile=tmp_path / "x.log")
    try:
        # Within a deadline: once in a full run's load, /proc showed the new
        # process as not yet "sleep" right after spawn returned.
        process.wait_for(lambda: process.running_pid(pidfile, "sleep") == pid, 5, "sleep to show in /proc")
        assert process.running_pid(pidfile, "redis-server") is None
    finally:
        process.stop(pidfile, "sleep")


def test_stop_ends_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "x.pid"
    process.spawn(["sh", "-c", "sleep 30 & sleep 30 & wait"], pidfile=pidfile, logfile=tmp_path / "x.log")
    leader = process.read_pid(pidfile)
    process.wait_for(lambda: len(process.group_members(leader)) == 3, 5, "sh and its two sleeps")

    assert process.stop(pidfile, "sh") is True

    assert process.group_members(leader) == []
    assert not pidfile.exists()
    assert process.stop(pidfile, "sh") is False
