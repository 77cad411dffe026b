"""Common start and error handling of the command-line entry points."""
import logging
import sys

from model_utils.config import format_help, load_config
from model_utils.device_adapter import configure_cpu_isa
from model_utils.errors import is_user_facing

logger = logging.getLogger(__name__)

def run_entry(main, argv=None):
    """Run ``main(config)`` for a command-line tool.

    Sets the CPU ISA cap before MindSpore can be imported, resolves the config from
    ``argv`` (``-h``/``--help`` lists every key), and turns errors the user can fix into one
    line on stderr and exit status 2 (no traceback). Returns main's result otherwise.
    """
    configure_cpu_isa()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if "-h" in argv or "--help" in argv:
            sys.stdout.write(format_help(load_config([])) + "\n")
            return 0
        return main(load_config(argv))
    except Exception as err:                     # user-caused errors are marked user_facing (errors.py)
        if not is_user_facing(err):
            raise
        sys.stderr.write(f"error: {err}\n")      # the one line a user sees
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
