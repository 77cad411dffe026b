"""The strict config: schema from config.yaml, user file, command-line overrides."""
import pytest
import yaml

from model_utils.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

SCHEMA = """\
data_path: data
epochs: 3
encoder_lr: 1.0e-5
graph_mode: true
keypoint_weights: [1.0, 2.0]
checkpoint_file_path: null
---
data_path: where data is
epochs: how long
encoder_lr: step size
graph_mode: compiled or not
keypoint_weights: per-keypoint weights
checkpoint_file_path: optional checkpoint
"""


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(SCHEMA)
    return str(path)


def test_defaults_and_types(schema):
    config = load_config([], schema)
    assert config.epochs == 3 and config.encoder_lr == 1e-5 and config.graph_mode is True
    assert config.keypoint_weights == [1.0, 2.0] and config.checkpoint_file_path is None
    assert config.help("epochs") == "how long"


def test_cli_beats_yaml(schema, tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text("epochs: 10\nencoder_lr: 0.001\n")
    config = load_config(["--config_path", str(user), "--epochs", "20"], schema)
    assert config.epochs == 20                 # command line wins
    assert config.encoder_lr == 0.001          # user file beats the default
    assert config.sources == (schema, str(user), "command line")


def test_cli_forms_lists_bools_and_null(schema):
    config = load_config(["--keypoint_weights", "3,4.5", "--graph_mode=false",
                          "--checkpoint_file_path", "a.ckpt", "--encoder_lr", "2e-4"], schema)
    assert config.keypoint_weights == [3.0, 4.5] and config.graph_mode is False
    assert config.checkpoint_file_path == "a.ckpt" and config.encoder_lr == 2e-4
    assert load_config(["--keypoint_weights", "[5, 6]"], schema).keypoint_weights == [5.0, 6.0]
    assert load_config(["--graph_mode"], schema).graph_mode is True      # bare flag
    assert load_config(["--data_path", "123"], schema).data_path == "123"  # strings stay strings


def test_unknown_key_on_command_line(schema):
    with pytest.raises(ConfigError, match="unknown option '--epoch'"):
        load_config(["--epoch", "3"], schema)


def test_unknown_key_in_user_file(schema, tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text("e_lr: 0.1\n")
    with pytest.raises(ConfigError, match=r"user.yaml: unknown config key 'e_lr'"):
        load_config(["--config_path", str(user)], schema)


def test_wrong_types_name_the_key(schema, tmp_path):
    with pytest.raises(ConfigError, match="key 'epochs' expects int, got 'many'"):
        load_config(["--epochs", "many"], schema)
    with pytest.raises(ConfigError, match="key 'graph_mode' expects bool"):
        load_config(["--graph_mode", "maybe"], schema)
    with pytest.raises(ConfigError, match=r"key 'keypoint_weights\[1\]' expects float"):
        load_config(["--keypoint_weights", "1,x"], schema)
    user = tmp_path / "user.yaml"
    user.write_text("epochs: 2.5\n")
    with pytest.raises(ConfigError, match="user.yaml: key 'epochs' expects int, got 2.5"):
        load_config(["--config_path", str(user)], schema)


def test_missing_value_and_stray_token(schema):
    with pytest.raises(ConfigError, match="'--epochs' needs a value"):
        load_config(["--epochs"], schema)
    with pytest.raises(ConfigError, match="expected --KEY VALUE, got 'stray'"):
        load_config(["stray"], schema)


def test_missing_config_file(schema, tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*absent.yaml"):
        load_config(["--config_path", str(tmp_path / "absent.yaml")], schema)


def test_saved_config_round_trips(schema, tmp_path):
    config = load_config(["--epochs", "7", "--keypoint_weights", "1,1"], schema)
    saved = config.save(str(tmp_path / "out" / "config.yaml"))
    again = load_config(["--config_path", saved], schema)
    assert again.to_dict() == config.to_dict()


def test_config_is_read_only(schema):
    config = load_config([], schema)
    with pytest.raises(AttributeError):
        config.epochs = 5
    assert config.replace(epochs=9).epochs == 9 and config.epochs == 3


def test_project_config_has_help_for_every_key():
    with open(DEFAULT_CONFIG_PATH, encoding="utf-8") as handle:
        values, help_texts = list(yaml.safe_load_all(handle))
    assert set(values) == set(help_texts)
    assert all(isinstance(text, str) and len(text) > 10 for text in help_texts.values())
    load_config([])


RULED_SCHEMA = """\
batch_size: 8
lr: 1.0e-4
prob: 0.5
ratios: [0.5, 0.5]
head: axis_angle
names: []
---
batch_size: samples per step [>= 1]
lr: step size [> 0]
prob: a probability [0 .. 1]
ratios: shares [>= 0, sum > 0]
head: the head [axis_angle | rot6d]
names: datasets [lsp | coco]
"""


@pytest.mark.parametrize("argv, message", [
    (["--batch_size", "-3"], "key 'batch_size' must be >= 1; got -3"),
    (["--batch_size", "0"], "key 'batch_size' must be >= 1; got 0"),
    (["--lr", "-1e-4"], "key 'lr' must be > 0; got -0.0001"),
    (["--lr", "0"], "key 'lr' must be > 0; got 0.0"),
    (["--prob", "1.5"], "key 'prob' must be <= 1; got 1.5"),
    (["--ratios", "0,0"], "the sum of 'ratios' must be > 0; got 0.0"),
    (["--ratios", "1,-1"], "key 'ratios' must be >= 0; got -1.0"),
    (["--head", "6d"], "key 'head' must be one of axis_angle, rot6d; got '6d'"),
    (["--names", "lsp,mpii"], "key 'names' must be one of lsp, coco; got 'mpii'"),
])
def test_ranges_and_choices_from_the_help(tmp_path, argv, message):
    path = tmp_path / "config.yaml"
    path.write_text(RULED_SCHEMA)
    with pytest.raises(ConfigError) as err:
        load_config(argv, str(path))
    assert str(err.value) == f"command line: {message}"
    assert load_config(["--batch_size", "1", "--prob", "1", "--ratios", "0,2", "--names", "coco"], str(path)).prob == 1.0
    user = tmp_path / "user.yaml"
    user.write_text("prob: -0.1\n")
    with pytest.raises(ConfigError, match=r"user.yaml: key 'prob' must be >= 0; got -0.1"):
        load_config(["--config_path", str(user)], str(path))
    with pytest.raises(ConfigError, match="Config.replace: key 'lr' must be > 0"):
        load_config([], str(path)).replace(lr=-1.0)


def test_project_config_rules_every_number_and_closed_choice():
    """Every numeric key of config.yaml declares its range; the keys with a closed set of values their choices."""
    from model_utils.config import parse_rule
    with open(DEFAULT_CONFIG_PATH, encoding="utf-8") as handle:
        values, helps = list(yaml.safe_load_all(handle))
    numeric = [k for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool) or
               isinstance(v, list) and v and isinstance(v[0], (int, float))]
    unruled = [k for k in numeric if parse_rule(k, helps[k], values[k]) is None]
    assert not unruled, unruled
    closed = ("device_target", "image_normalization", "lr_schedule", "dataset", "eval_joint_set",
              "source", "file_format", "cpu_backend", "datasets")
    assert all("choices" in parse_rule(k, helps[k], values[k]) for k in closed)


@pytest.mark.parametrize("tool, argv", [
    ("train.py", ["--batch_size", "-3"]), ("train.py", ["--train_dataset_ratios", "0,0"]),
    ("train.py", ["--encoder_lr", "-1e-4"]), ("demo.py", ["--fit_steps", "-5"]),
    ("eval.py", ["--eval_batch_size", "0"]),
])
def test_entry_points_refuse_out_of_range_values(tmp_path, tool, argv):
    import os
    import subprocess
    import sys
    root = os.path.dirname(DEFAULT_CONFIG_PATH)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, tool, "--output_path", str(out), "--out_folder", str(out / "demo"),
                             *argv], cwd=root, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=root))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: command line: ") and f"'{argv[0][2:]}'" in lines[0]
    assert not out.exists()                                     # nothing written


def test_renamed_keys_are_read_under_their_old_names_with_a_warning(tmp_path, caplog):
    """``refine`` (SMPL fitting) and ``refiner_*`` (the temporal network) were renamed ``fit_*`` and
    ``temporal_*``: a saved config or a command line with the old spellings still resolves."""
    old = tmp_path / "old_run.yaml"
    old.write_text(yaml.safe_dump({"refine": 12, "refine_lr": 0.5, "train_refiner": True, "refiner_clip": 9}))
    with caplog.at_level("WARNING"):
        config = load_config(["--config_path", str(old), "--refiner_dim", "48", "--refine_pose_weight=0.25"])
    assert (config.fit_steps, config.fit_lr, config.train_temporal, config.temporal_clip) == (12, 0.5, True, 9)
    assert (config.temporal_dim, config.fit_pose_weight) == (48, 0.25)
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert f"{old}: 'refine' is now called 'fit_steps'" in warned
    assert "command line: 'refiner_dim' is now called 'temporal_dim'" in warned
    for removed in ("refine", "refiner_dim", "train_refiner"):
        assert removed not in config


def test_renamed_keys_keep_their_rules():
    with pytest.raises(ConfigError, match="key 'fit_steps' must be >= 0; got -5"):
        load_config(["--refine", "-5"])
