"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test runs this file as ``python get_pip_X_Y.py [pip options] pip==X.Y ...`` inside a new
virtual environment.  pip comes from the interpreter's bundled ensurepip wheel instead of a
download; the requested packages then come from the configured package index.
"""
import os
import subprocess
import sys


def main():
    env = dict(os.environ)
    # ensurepip sets PIP_CONFIG_FILE=os.devnull for its own run; the later install must see the
    # machine's pip configuration (index, certificates) again.
    env.pop('PIP_CONFIG_FILE', None)
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], env=env)
    os.environ.pop('PIP_CONFIG_FILE', None)
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args, env=env)


if __name__ == '__main__':
    main()
