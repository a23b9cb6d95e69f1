"""Stopping the process groups the lab starts (stand-ins and simulated Talos nodes)."""
import os
import signal
import time


def gone(pid):
    """True once the process has exited: a zombie waiting for init to reap it counts as gone."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as handle:
            return handle.read().rpartition(')')[2].split()[0] == 'Z'
    except (OSError, IndexError):
        return True


def stop_group(pid, timeout):
    """SIGTERM the process group led by ``pid``, then SIGKILL what is left after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                if gone(pid):
                    return
            time.sleep(0.05)
