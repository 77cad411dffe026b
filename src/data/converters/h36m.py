"""Human3.6M in the earlier port's form (``human3.6m/annot.h5`` + ``images/``) -> uniform npz.

Training uses subjects S1, S5, S6, S7 and S8 only. The test subjects S9 and S11 are
written separately for evaluation: protocol 1 with all four cameras, protocol 2 with the
frontal camera 60457274 only. Test subjects never reach the training file (nor the mocap
file, see ``mocap.py``). Each output also records ``subject``, ``action`` and ``camera``
per sample (from the image name) for per-action evaluation tables.
"""
from src.data.converters.annot import find_token, image_folder, read_annotations, sample_fields
from src.data.converters.common import Conversion, find_first, finish

H36M_FOLDERS = ("human3.6m", "h36m", "Human3.6M", "human36m")
TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
CAMERAS = ("54138969", "55011271", "58860488", "60457274")
FRONTAL_CAMERA = "60457274"
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Phone", "Posing", "Purchases",
           "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Photo", "Waiting", "Walking", "WalkingDog",
           "WalkDog", "WalkTogether", "WalkingTogether")


def split_by_subject(annot, image_dir, output_dir, options, outputs):
    """Distribute samples over ``outputs``: {name: (Conversion, predicate(subject, camera))}.

    Samples whose subject matches no output are dropped and counted under the first one.
    """
    first = next(iter(outputs.values()))[0]
    for i, name in enumerate(annot["imagename"]):
        subject, camera = annot["subject"][i], find_token(name, CAMERAS)
        targets = [conv for conv, accepts in outputs.values() if accepts(subject, camera)]
        if not targets:
            first.drop("no subject in image name" if subject is None else f"subject {subject} in no split")
            continue
        fields = sample_fields(annot, i, image_dir, output_dir, options["bbox_margin"])
        for conv in targets:
            if fields is None:
                conv.drop("fewer than 2 visible joints")
            else:
                conv.add(**fields, action=find_token(name, ACTIONS), camera=camera)


def load(data_path, require_smpl=True):
    """Annotations and image folder of the Human3.6M folder, with a subject per sample."""
    root = find_first("Human3.6M", data_path, H36M_FOLDERS, kind="folder")
    annot = read_annotations("Human3.6M", root, require_smpl)
    return annot, image_folder("Human3.6M", root)


def convert_h36m(data_path, output_dir, options):
    annot, image_dir = load(data_path)
    outputs = {
        "h36m_train.npz": (Conversion("h36m_train"), lambda s, c: s in TRAIN_SUBJECTS),
        "h36m_valid_protocol1.npz": (Conversion("h36m_valid_protocol1"), lambda s, c: s in TEST_SUBJECTS),
        "h36m_valid_protocol2.npz": (Conversion("h36m_valid_protocol2"),
                                     lambda s, c: s in TEST_SUBJECTS and c == FRONTAL_CAMERA),
    }
    split_by_subject(annot, image_dir, output_dir, options, outputs)
    return [finish(conv, output_dir, filename) for filename, (conv, _) in outputs.items()]
