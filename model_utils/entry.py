"""Common start and error handling of the command-line entry points."""
import logging
import sys

from model_utils.config import ConfigError, format_help, load_config
from model_utils.device_adapter import configure_cpu_isa
from model_utils.errors import TrainingDiverged, UserInputError

logger = logging.getLogger(__name__)

def run_entry(main, argv=None):
    """Run ``main(config)`` for a command-line tool.

    Sets the CPU ISA cap before MindSpore can be imported, resolves the config from
    ``argv`` (``-h``/``--help`` lists every key), and turns errors the user can fix into one
    line on stderr and exit status 2 (no traceback). Returns main's result otherwise.
    """
    configure_cpu_isa()
    argv = sys.argv[1:] if argv is None else list(argv)
    # user-caused errors come from the config, the body-model loader, and the tools themselves
    from HMR.smpl import SMPLModelError
    user_errors = (ConfigError, UserInputError, SMPLModelError, FileNotFoundError, TrainingDiverged)
    try:
        if "-h" in argv or "--help" in argv:
            sys.stdout.write(format_help(load_config([])) + "\n")
            return 0
        return main(load_config(argv))
    except user_errors as err:
        sys.stderr.write(f"error: {err}\n")      # the one line a user sees
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
