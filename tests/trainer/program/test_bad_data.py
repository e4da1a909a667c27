"""Data and output problems end the run with one line naming the path and what is wrong."""

from __future__ import annotations

import shutil

import pytest

from tests.trainer.program.conftest import TINY, run_program
from trainer.program import data
from trainer.program.progress import parse_line
from trainer.program.train import main


def train(data_dir, output, capsys, *extra: str) -> tuple[int, str, list[dict]]:
    code = main(["--data", str(data_dir), "--output", str(output), "--epochs", "1", *TINY, *extra])
    captured = capsys.readouterr()
    events = [e for e in map(parse_line, captured.out.splitlines()) if e]
    return code, captured.err.strip(), events


@pytest.fixture
def copy_of_data(synthetic_data, tmp_path):
    return shutil.copytree(synthetic_data, tmp_path / "data")


def test_it_refuses_an_empty_data_folder_in_one_line_without_a_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    finished = run_program(["--data", str(empty), "--output", str(tmp_path / "out"), *TINY])
    assert finished.returncode == 3
    errors = [line for line in finished.stderr.splitlines() if line.startswith("trainer:")]
    assert errors == [f"trainer: error: data folder {empty} is empty: expected {data.LAYOUT}"]
    assert "Traceback" not in finished.stderr
    assert finished.events == [
        {
            "event": "end",
            "status": "failed",
            "exit_code": 3,
            "error": f"data folder {empty} is empty: expected {data.LAYOUT}",
            "elapsed_seconds": finished.events[0]["elapsed_seconds"],
        }
    ]


def test_it_refuses_a_missing_data_folder(tmp_path, capsys):
    code, error, events = train(tmp_path / "nowhere", tmp_path / "out", capsys)
    assert code == 3
    assert error == f"trainer: error: data folder {tmp_path / 'nowhere'} does not exist"
    assert events[-1]["status"] == "failed"


def test_it_refuses_a_data_folder_without_images(tmp_path, capsys):
    (tmp_path / "data" / "annotations" / "trimaps").mkdir(parents=True)
    (tmp_path / "data" / "annotations" / "trimaps" / "a.png").write_bytes(b"")
    code, error, _ = train(tmp_path / "data", tmp_path / "out", capsys)
    assert code == 3
    assert f"has no images in {tmp_path / 'data' / 'images'}/" in error


def test_it_refuses_images_and_masks_that_do_not_pair_up(copy_of_data, tmp_path, capsys):
    (copy_of_data / "annotations" / "trimaps" / "ellipse_1.png").unlink()
    (copy_of_data / "annotations" / "trimaps" / "stray_9.png").write_bytes(b"")
    code, error, _ = train(copy_of_data, tmp_path / "out", capsys)
    assert code == 3
    assert "mismatched images and masks" in error
    assert f"1 image(s) have no trimap (first: {copy_of_data}/images/ellipse_1.jpg" in error
    assert f"1 trimap(s) have no image (first: {copy_of_data}/annotations/trimaps/stray_9.png" in (
        error
    )
    assert len(error.splitlines()) == 1


def test_it_skips_hidden_files_such_as_the_oxford_archives_resource_forks(copy_of_data):
    (copy_of_data / "annotations" / "trimaps" / "._ellipse_1.png").write_bytes(b"\0\5")
    assert len(data.discover(str(copy_of_data))) == 12


def test_it_names_an_unreadable_image(copy_of_data, tmp_path, capsys):
    broken = copy_of_data / "images" / "triangle_3.jpg"
    broken.write_bytes(b"this is not a JPEG")
    code, error, events = train(copy_of_data, tmp_path / "out", capsys)
    assert code == 3
    assert error.startswith(f"trainer: error: cannot read {broken}: ")
    assert len(error.splitlines()) == 1
    assert events[-1]["status"] == "failed"
    assert events[-1]["error"].startswith(f"cannot read {broken}")


def test_it_names_trimaps_that_are_not_oxford_trimaps_or_do_not_fit_their_image(copy_of_data):
    import tensorflow as tf

    trimaps = copy_of_data / "annotations" / "trimaps"
    (trimaps / "ellipse_4.png").write_bytes(
        tf.io.encode_png(tf.fill([40, 48, 1], tf.constant(7, tf.uint8))).numpy()
    )
    (trimaps / "rectangle_2.png").write_bytes(
        tf.io.encode_png(tf.ones([8, 8, 1], tf.uint8)).numpy()
    )
    problems = data.find_unreadable(data.discover(str(copy_of_data)), image_size=32)
    assert problems == [
        f"trimap {trimaps}/ellipse_4.png has values [7]; expected only 1 (pet), "
        "2 (background) and 3 (border)",
        f"{copy_of_data}/images/rectangle_2.jpg is 48x40 pixels but its trimap "
        f"{trimaps}/rectangle_2.png is 8x8",
    ]


@pytest.mark.parametrize("where", ["a file", "inside a file"])
def test_it_refuses_an_output_it_cannot_write(synthetic_data, tmp_path, capsys, where):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    output = blocker if where == "a file" else blocker / "out"
    code, error, _ = train(synthetic_data, output, capsys)
    assert code == 3
    assert error.startswith("trainer: error: ")
    assert str(output) in error
    assert len(error.splitlines()) == 1
