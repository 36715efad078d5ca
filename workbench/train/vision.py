"""MNIST, Fashion-MNIST, CIFAR-10/100 through torchvision from a local folder.

`download=False` by default (no network here); a missing file gives a `BadInput` naming
the files and the folder. Images are kept as uint8 tensors and normalised per batch.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from workbench.errors import BadInput
from workbench.train.augment import pad_crop_flip
from workbench.train.datasets import DatasetEntry, RawData, register_dataset

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta")
CIFAR100_FILES = ("train", "test", "meta")

NORMALIZATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def _missing_message(name: str, folder: Path, files: list[str], gz_ok: bool) -> str:
    also = " (or the same names with .gz)" if gz_ok else ""
    return (
        f"dataset {name!r} not found: place {', '.join(files)}{also} in {folder} "
        f"(set data_root to use another folder, or download=true where a network exists)"
    )


def _mnist_like(cls_name: str, name: str) -> Callable[[Path, bool], RawData]:
    """A builder for torchvision's MNIST-format datasets."""

    def build(root: Path, download: bool) -> RawData:
        from torchvision import datasets

        cls = getattr(datasets, cls_name)
        raw = root / cls_name / "raw"
        if not download:
            _gunzip_missing(raw)
            missing = [f for f in MNIST_FILES if not (raw / f).is_file()]
            if missing:
                raise BadInput(_missing_message(name, raw, missing, gz_ok=True))
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
        mean, std = NORMALIZATION[name]
        return RawData(
            train.data.unsqueeze(1).contiguous(),
            train.targets.long(),
            test.data.unsqueeze(1).contiguous(),
            test.targets.long(),
            num_classes=len(train.classes),
            scale=1 / 255,
            mean=mean,
            std=std,
            classes=list(train.classes),
        )

    build.__doc__ = f"torchvision {cls_name} from <data_root>/{cls_name}/raw/."
    return build


def _gunzip_missing(raw: Path) -> None:
    """torchvision reads the uncompressed IDX files: unpack .gz ones placed by hand."""
    for f in MNIST_FILES:
        src, dst = raw / f"{f}.gz", raw / f
        if src.is_file() and not dst.is_file():
            tmp = dst.with_suffix(".part")
            try:
                with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                tmp.replace(dst)
            except OSError as exc:
                raise BadInput(f"cannot unpack {src} next to it ({exc}); gunzip it there") from None


def _local_cifar(cls: type) -> type:
    """A subclass that trusts local files (the real ones pass md5; hand-placed ones need not)."""

    class Local(cls):  # type: ignore[misc, valid-type]
        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / f).is_file() for f, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            import pickle

            path = Path(self.root) / self.base_folder / self.meta["filename"]
            with open(path, "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    Local.__name__ = cls.__name__
    return Local


def _cifar(cls_name: str, name: str, folder: str, files: tuple[str, ...]):
    """A builder for torchvision's CIFAR-format datasets."""

    def build(root: Path, download: bool) -> RawData:
        from torchvision import datasets

        base = getattr(datasets, cls_name)
        if download:
            base(str(root), train=True, download=True)
        missing = [f for f in files if not (root / folder / f).is_file()]
        if missing:
            raise BadInput(_missing_message(name, root / folder, missing, gz_ok=False))
        cls = _local_cifar(base)
        train, test = cls(str(root), train=True), cls(str(root), train=False)

        def images(ds) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))

        mean, std = NORMALIZATION[name]
        return RawData(
            images(train),
            torch.tensor(train.targets, dtype=torch.int64),
            images(test),
            torch.tensor(test.targets, dtype=torch.int64),
            num_classes=len(train.classes),
            scale=1 / 255,
            mean=mean,
            std=std,
            augment=pad_crop_flip,
            augment_default=True,
            classes=list(train.classes),
        )

    build.__doc__ = f"torchvision {cls_name} from <data_root>/{folder}/."
    return build


def _files(folder: str, names: tuple[str, ...]) -> Callable[[Path], list[Path]]:
    return lambda root: [root / folder / n for n in names]


register_dataset(
    "mnist",
    DatasetEntry(
        _mnist_like("MNIST", "mnist"),
        "MNIST 60,000 train / 10,000 test, 1×28×28 (local files)",
        (1, 28, 28),
        10,
        offline=False,
        files=_files("MNIST/raw", MNIST_FILES),
    ),
)
register_dataset(
    "fashion-mnist",
    DatasetEntry(
        _mnist_like("FashionMNIST", "fashion-mnist"),
        "Fashion-MNIST 60,000 train / 10,000 test, 1×28×28 (local files)",
        (1, 28, 28),
        10,
        offline=False,
        files=_files("FashionMNIST/raw", MNIST_FILES),
    ),
)
register_dataset(
    "cifar10",
    DatasetEntry(
        _cifar("CIFAR10", "cifar10", "cifar-10-batches-py", CIFAR10_FILES),
        "CIFAR-10 50,000 train / 10,000 test, 3×32×32, pad-crop-flip (local files)",
        (3, 32, 32),
        10,
        offline=False,
        files=_files("cifar-10-batches-py", CIFAR10_FILES),
    ),
)
register_dataset(
    "cifar100",
    DatasetEntry(
        _cifar("CIFAR100", "cifar100", "cifar-100-python", CIFAR100_FILES),
        "CIFAR-100 50,000 train / 10,000 test, 3×32×32, pad-crop-flip (local files)",
        (3, 32, 32),
        100,
        offline=False,
        files=_files("cifar-100-python", CIFAR100_FILES),
    ),
)
