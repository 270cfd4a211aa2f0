"""``python -m dbtwin``: the command line, as ``torchrun -m dbtwin fit ...`` starts it on every rank."""

from dbtwin.cli import app

if __name__ == "__main__":
    app(prog_name="dbtwin")
