"""Datasets: offline builders, seeded splits, batching, and torchvision's real file formats."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from tests.train.common import tiny_spec
from workbench.errors import BadInput
from workbench.train import DATASETS, Batcher, RunSpec, Trainer, load_raw, prepare_data
from workbench.train.augment import pad_crop_flip
from workbench.train.datasets import Split


def test_offline_datasets_shapes():
    for name, shape, n_train, n_test in [
        ("mnist1d", (1, 40), 4000, 1000),
        ("digits", (1, 28, 28), 1437, 360),
        ("synthetic", (1, 32), 2000, 500),
    ]:
        raw = load_raw(name)
        assert raw.input_shape == shape == DATASETS.get(name).input_shape
        assert (len(raw.y_train), len(raw.y_test)) == (n_train, n_test)
        assert set(raw.y_train.tolist()) == set(range(10))


def test_mnist1d_is_cached_and_leaves_global_rngs_alone(shared_data_root):
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    load_raw("mnist1d")
    assert np.random.rand() == expected
    assert (shared_data_root / "mnist1d" / "mnist1d_default.npz").is_file()


def test_splits_are_seeded_disjoint_and_sized():
    spec = RunSpec.parse(tiny_spec(eval_subset=None, dataset="digits", model="lenet5"))
    a, b = prepare_data(spec), prepare_data(spec)
    assert (len(a.train), len(a.val), len(a.test)) == (1293, 144, 360)
    assert torch.equal(a.val.x, b.val.x)
    other = prepare_data(RunSpec.parse(dict(spec.to_dict(), seed=1)))
    assert not torch.equal(a.val.y, other.val.y)
    # validation examples are not among the training ones
    train_rows = {tuple(r.flatten()[::7].tolist()) for r in a.train.x}
    assert not any(tuple(r.flatten()[::7].tolist()) in train_rows for r in a.val.x)
    sub = prepare_data(RunSpec.parse(dict(spec.to_dict(), subset=100, eval_subset=50)))
    assert (len(sub.train), len(sub.val), len(sub.test)) == (100, 50, 50)
    none = prepare_data(RunSpec.parse(dict(spec.to_dict(), val_fraction=0)))
    assert none.val is None and len(none.train) == 1437


def test_no_validation_split_reports_test_top1():
    result = Trainer(tiny_spec(val_fraction=0, budget=20)).run()
    assert np.isnan(result.history[-1]["val_top1"])
    assert result.final_top1 == result.history[-1]["test_top1"]


def test_batcher_sees_every_example_once_per_epoch_and_is_pure():
    split = Split(torch.arange(10).float(), torch.arange(10))
    batcher = Batcher(split, batch_size=4, seed=3)
    stream = torch.cat([batcher.batch(t)[1] for t in range(5)]).tolist()  # 2 epochs
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert stream[:10] != stream[10:]
    fresh = Batcher(split, batch_size=4, seed=3)
    assert torch.equal(fresh.batch(3)[1], batcher.batch(3)[1])
    assert batcher.epoch(5) == 2.0


def test_pad_crop_flip_keeps_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    out = pad_crop_flip(x, gen, pad=2)
    assert out.shape == x.shape and out.dtype == x.dtype
    for i in range(2):  # every output row is a (possibly flipped) shifted input row or zero
        values = set(out[i].flatten().tolist()) - {0}
        assert values <= set(x[i].flatten().tolist())
    # zero padding and no shift: the identity or a mirror
    same = pad_crop_flip(x, torch.Generator().manual_seed(1), pad=0)
    for i in range(2):
        assert torch.equal(same[i], x[i]) or torch.equal(same[i], x[i].flip(-1))


# --- torchvision loaders on tiny files in the real formats -----------------------------------


def _idx_images(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", 0x00000803, n, h, w) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes()


def _write_mnist(folder, rng: np.random.Generator, gz: bool, n_train=30, n_test=10) -> dict:
    folder.mkdir(parents=True)
    data = {
        "train-images-idx3-ubyte": _idx_images(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": _idx_labels(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte": _idx_images(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": _idx_labels(np.arange(n_test)[::-1] % 10),
    }
    for name, payload in data.items():
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(payload)
        else:
            (folder / name).write_bytes(payload)
    return data


@pytest.mark.parametrize(("name", "folder", "gz"),
                         [("mnist", "MNIST", True), ("fashion-mnist", "FashionMNIST", False)])  # fmt: skip
def test_mnist_idx_files_load(tmp_path, name, folder, gz):
    rng = np.random.default_rng(0)
    data = _write_mnist(tmp_path / folder / "raw", rng, gz)
    raw = load_raw(name, tmp_path)
    assert raw.x_train.shape == (30, 1, 28, 28) and raw.x_train.dtype == torch.uint8
    assert raw.y_train.tolist() == [i % 10 for i in range(30)]
    assert raw.y_test.tolist() == [i % 10 for i in range(10)][::-1]
    expected = np.frombuffer(data["t10k-images-idx3-ubyte"][16:], dtype=np.uint8)
    assert np.array_equal(raw.x_test.numpy().ravel(), expected)
    spec = tiny_spec(dataset=name, model="lenet5", data_root=str(tmp_path), batch_size=8,
                     budget=4, eval_every=2, eval_subset=None)  # fmt: skip
    result = Trainer(spec).run()
    assert result.status == "completed" and len(result.history) == 3


def _write_cifar(folder, files: dict[str, tuple[int, str]], meta: tuple[str, str, list]) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, (n, key) in files.items():
        entry = {
            "data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
            key: [int(i) for i in rng.integers(0, 10, n)],
            "filenames": [f"img{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / meta[0], "wb") as f:
        pickle.dump({meta[1]: meta[2]}, f)


def test_cifar10_pickles_load(tmp_path):
    files = {f"data_batch_{i}": (4, "labels") for i in range(1, 6)} | {"test_batch": (6, "labels")}
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, files, ("batches.meta", "label_names", [f"c{i}" for i in range(10)]))
    raw = load_raw("cifar10", tmp_path)
    assert raw.x_train.shape == (20, 3, 32, 32) and raw.x_test.shape == (6, 3, 32, 32)
    with open(folder / "data_batch_2", "rb") as f:
        second = pickle.load(f)
    # CIFAR rows are 1024 red, 1024 green, 1024 blue values, row-major
    assert np.array_equal(raw.x_train[4:8].numpy().reshape(4, 3072), second["data"])
    assert raw.y_train[4:8].tolist() == second["labels"]
    assert raw.classes == [f"c{i}" for i in range(10)] and raw.augment is not None


def test_cifar100_pickles_load(tmp_path):
    folder = tmp_path / "cifar-100-python"
    files = {"train": (12, "fine_labels"), "test": (5, "fine_labels")}
    _write_cifar(folder, files, ("meta", "fine_label_names", [f"f{i}" for i in range(100)]))
    raw = load_raw("cifar100", tmp_path)
    assert raw.num_classes == 100 and raw.x_train.shape == (12, 3, 32, 32)
    spec = tiny_spec(dataset="cifar100", model="cnn3", data_root=str(tmp_path), batch_size=4,
                     budget=3, eval_every=3, eval_subset=None, val_fraction=0.2)  # fmt: skip
    assert Trainer(spec).run().status == "completed"


def test_missing_local_dataset_names_files_and_folder(tmp_path):
    with pytest.raises(BadInput) as info:
        load_raw("cifar10", tmp_path)
    message = str(info.value)
    assert "data_batch_1" in message and "batches.meta" in message
    assert str(tmp_path / "cifar-10-batches-py") in message and "download" in message
    with pytest.raises(BadInput, match=r"t10k-labels-idx1-ubyte.*\.gz"):
        load_raw("fashion-mnist", tmp_path)
