"""``python -m src.convert --from FORMAT --input FILE --output FILE.ckpt``; FORMAT: spin, mmpose,
torchvision-resnet50, cliff, metahmr, hybrik, ehgformer, crowdnet, vposer, hmr2, vitpose, hap, hap2d."""
import argparse
import sys

from model_utils.device_adapter import configure_cpu_isa
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging


def main(argv=None):
    from src.convert.convert import FORMATS, convert     # MindSpore loads only inside convert()
    parser = argparse.ArgumentParser(prog="python -m src.convert", description=__doc__)
    parser.add_argument("--from", dest="fmt", required=True, choices=FORMATS)
    parser.add_argument("--input", required=True, help="the .pt/.pth file")
    parser.add_argument("--output", required=True, help="the MindSpore checkpoint to write (.ckpt)")
    args = parser.parse_args(argv)
    configure_cpu_isa()
    setup_logging(None)
    try:
        return convert(args.fmt, args.input, args.output)
    except UserInputError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
