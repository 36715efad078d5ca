"""Datasets: a public registry, offline builders, seeded splits and in-memory batching.

Every dataset is held as tensors (uint8 images stay uint8 and are normalised per batch),
so batches are index selections: no DataLoader, no worker processes, and the data order
is a pure function of (seed, iteration) — which is what makes resume exact and cheap.
"""

from __future__ import annotations

import inspect
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench import paths
from workbench.errors import BadInput
from workbench.train.augment import pad_crop_flip
from workbench.train.registry import Registry
from workbench.train.spec import RunSpec

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass
class RawData:
    """What a dataset builder returns: train and test tensors plus how to normalise them."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    scale: float = 1.0  # applied first (1/255 for uint8 images)
    mean: tuple[float, ...] | None = None  # per channel, after scaling
    std: tuple[float, ...] | None = None
    augment: Augment | None = None  # train-time augmentation on raw (unnormalised) batches
    augment_default: bool = False
    classes: list[str] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (without the batch dimension)."""
        return tuple(self.x_train.shape[1:])


@dataclass
class DatasetEntry:
    """A registered dataset: a builder `(root, download, **options) -> RawData` and facts."""

    builder: Callable[..., RawData]
    description: str
    input_shape: tuple[int, ...]
    num_classes: int
    offline: bool = True
    files: Callable[[Path], list[Path]] | None = None  # local files a real dataset needs
    notes: str = ""

    def missing(self, root: Path) -> list[Path]:
        """Files a local dataset still needs under `root` (empty when available)."""
        if self.files is None:
            return []
        return [
            p
            for p in self.files(root)
            if not (p.is_file() or p.with_name(p.name + ".gz").is_file())
        ]


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(name: str, entry: DatasetEntry, *, replace: bool = False) -> DatasetEntry:
    """Add a dataset to the public registry."""
    return DATASETS.add(name, entry, replace=replace)


# --- normalisation and splits ---------------------------------------------------------------


class Normalizer:
    """Turns a raw batch (uint8 or float) into normalised float32, per channel."""

    def __init__(self, raw: RawData, device: torch.device):
        self.scale = raw.scale
        self.identity = raw.mean is None and raw.scale == 1.0
        shape = (1, -1) + (1,) * (len(raw.input_shape) - 1)
        self.mean = self.std = None
        if raw.mean is not None:
            self.mean = torch.tensor(raw.mean, dtype=torch.float32, device=device).view(shape)
            self.std = torch.tensor(raw.std, dtype=torch.float32, device=device).view(shape)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity and x.dtype == torch.float32:
            return x
        x = x.to(torch.float32)
        if self.scale != 1.0:
            x = x * self.scale
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x


@dataclass
class Split:
    """Examples and labels of one split, on the training device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class DataBundle:
    """Train / validation / test splits of one dataset for one run, plus its batching."""

    name: str
    train: Split
    val: Split | None
    test: Split
    num_classes: int
    input_shape: tuple[int, ...]
    normalize: Normalizer
    augment: Augment | None
    info: dict[str, Any] = field(default_factory=dict)


def _split_seed(seed: int, salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + salt)


def _carve(raw: RawData, spec: RunSpec) -> tuple[Split, Split | None, Split]:
    """Seeded validation carve, then the training subset and the evaluation subset."""
    n = int(raw.y_train.shape[0])
    order = torch.randperm(n, generator=_split_seed(spec.seed, 1))
    n_val = round(n * spec.val_fraction)
    if spec.val_fraction > 0 and n_val == 0:
        n_val = 1
    val_idx, train_idx = order[:n_val], order[n_val:]
    if spec.subset is not None and spec.subset < len(train_idx):
        train_idx = train_idx[: spec.subset]
    test_idx = torch.arange(int(raw.y_test.shape[0]))
    if spec.eval_subset is not None:
        pick = torch.randperm(len(test_idx), generator=_split_seed(spec.seed, 2))
        test_idx = pick[: spec.eval_subset].sort().values
        val_idx = val_idx[: spec.eval_subset]
    train = Split(raw.x_train[train_idx], raw.y_train[train_idx])
    val = Split(raw.x_train[val_idx], raw.y_train[val_idx]) if n_val else None
    test = Split(raw.x_test[test_idx], raw.y_test[test_idx])
    return train, val, test


# --- loading with a per-process cache (forks and repeated runs reuse the tensors) ------------

_CACHE: dict[tuple, RawData] = {}
_CACHE_LOCK = threading.Lock()


def dataset_root(spec: RunSpec | None = None) -> Path:
    """Where local datasets are looked for: the spec's `data_root`, else `paths.data_root()`."""
    if spec is not None and spec.data_root:
        return Path(spec.data_root).expanduser().resolve()
    return paths.data_root()


def load_raw(
    name: str, root: Path | None = None, download: bool = False, **options: Any
) -> RawData:
    """The raw tensors of a registered dataset (cached per process)."""
    entry = DATASETS.get(name)
    root = Path(root) if root is not None else paths.data_root()
    _check_options(name, entry.builder, options)
    key = (name.lower(), str(root), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = entry.builder(root, download, **options)
        return _CACHE[key]


def clear_cache() -> None:
    """Forget the cached datasets and splits (frees memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _BUNDLES.clear()


def _check_options(name: str, builder: Callable[..., RawData], options: dict[str, Any]) -> None:
    params = inspect.signature(builder).parameters
    allowed = [p for p in params if p not in ("root", "download")]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise BadInput(
            f"dataset_options: {', '.join(unknown)} not understood by dataset {name!r}; "
            f"known: {', '.join(allowed) or 'none'}"
        )


_BUNDLES: OrderedDict[tuple, DataBundle] = OrderedDict()
BUNDLE_CACHE_SIZE = 4  # carved splits kept per process, so K forks share one copy


def prepare_data(spec: RunSpec, device: torch.device | str = "cpu") -> DataBundle:
    """The splits of the spec's dataset, on `device`; `BadInput` if it cannot be used.

    Bundles are read-only and cached (a few per process): restoring K forks of one run
    shares one copy of the data.
    """
    device = torch.device(device)
    key = (
        spec.dataset.lower(),
        str(dataset_root(spec)),
        repr(sorted(spec.dataset_options.items())),
        spec.seed,
        spec.val_fraction,
        spec.subset,
        spec.eval_subset,
        spec.augment,
        str(device),
    )
    with _CACHE_LOCK:
        bundle = _BUNDLES.get(key)
        if bundle is not None:
            _BUNDLES.move_to_end(key)
    if bundle is None:
        bundle = _prepare(spec, device)
        with _CACHE_LOCK:
            _BUNDLES[key] = bundle
            while len(_BUNDLES) > BUNDLE_CACHE_SIZE:
                _BUNDLES.popitem(last=False)
    if spec.batch_size > len(bundle.train):
        raise BadInput(
            f"batch_size {spec.batch_size} is larger than the training split of "
            f"{spec.dataset!r} ({len(bundle.train)} examples); use batch_size <= "
            f"{len(bundle.train)}"
        )
    return bundle


def _prepare(spec: RunSpec, device: torch.device) -> DataBundle:
    raw = load_raw(spec.dataset, dataset_root(spec), spec.download, **spec.dataset_options)
    train, val, test = _carve(raw, spec)
    use_aug = raw.augment_default if spec.augment is None else spec.augment
    if use_aug and raw.augment is None:
        raise BadInput(f"augment: dataset {spec.dataset!r} has no augmentation; set augment=false")

    def move(s: Split | None) -> Split | None:
        return None if s is None else Split(s.x.to(device), s.y.to(device))

    return DataBundle(
        name=spec.dataset,
        train=move(train),
        val=move(val),
        test=move(test),
        num_classes=raw.num_classes,
        input_shape=raw.input_shape,
        normalize=Normalizer(raw, device),
        augment=raw.augment if use_aug else None,
        info={"train": len(train), "val": len(val) if val else 0, "test": len(test)},
    )


# --- batching ------------------------------------------------------------------------------


class Batcher:
    """Batches of the training split as a pure function of (seed, iteration).

    The data stream is the concatenation of per-epoch permutations (epoch e's permutation is
    seeded by (seed, e)); batch t is stream positions [t·B, (t+1)·B). Every example is seen
    once per epoch, batches keep their size across epoch boundaries, and resuming at
    iteration t needs nothing but t.
    """

    def __init__(self, split: Split, batch_size: int, seed: int):
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.n = len(split)
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        perm = self._perms.get(epoch)
        if perm is None:
            perm = torch.randperm(self.n, generator=_split_seed(self.seed, 1000 + epoch))
            perm = perm.to(self.split.y.device)
            # keep only the current and next epoch's permutations
            self._perms = {e: p for e, p in self._perms.items() if e >= epoch - 1}
            self._perms[epoch] = perm
        return perm

    def indices(self, iteration: int) -> torch.Tensor:
        """Indices into the training split for batch `iteration`."""
        start = iteration * self.batch_size
        epoch, offset = divmod(start, self.n)
        end = offset + self.batch_size
        perm = self._perm(epoch)
        if end <= self.n:
            return perm[offset:end]
        return torch.cat([perm[offset:], self._perm(epoch + 1)[: end - self.n]])

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (unnormalised) examples and labels of batch `iteration`."""
        idx = self.indices(iteration)
        return self.split.x[idx], self.split.y[idx]

    def epoch(self, iteration: int) -> float:
        """Epochs completed after `iteration` optimizer steps."""
        return iteration * self.batch_size / self.n


# --- offline builders ----------------------------------------------------------------------


def _mnist1d(root: Path, download: bool) -> RawData:
    """MNIST-1D generated locally with the package's default arguments, cached as .npz."""
    path = root / "mnist1d" / "mnist1d_default.npz"
    if not path.is_file():
        from mnist1d.data import get_dataset_args, make_dataset

        # make_dataset reseeds the global `random` and numpy RNGs; leave them as they were.
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            data = make_dataset(get_dataset_args())
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # writers may race
        np.savez(tmp, x=data["x"], y=data["y"], x_test=data["x_test"], y_test=data["y_test"])
        tmp.replace(path)
    with np.load(path) as d:
        x, y, xt, yt = d["x"], d["y"], d["x_test"], d["y_test"]

    def as_x(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).unsqueeze(1)

    def as_y(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    return RawData(as_x(x), as_y(y), as_x(xt), as_y(yt), num_classes=10)


def _digits(root: Path, download: bool) -> RawData:
    """scikit-learn's 8×8 digits upsampled to 1×28×28 (so image models take it like MNIST)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    x = torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
    y = torch.from_numpy(d.target.astype(np.int64))
    # A fixed, stratified test split: the same for every run seed.
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=y)
    tr, te = torch.from_numpy(tr), torch.from_numpy(te)
    mean, std = float(x[tr].mean()), float(x[tr].std())
    return RawData(x[tr], y[tr], x[te], y[te], num_classes=10, mean=(mean,), std=(std,))


def _templates(shape: tuple[int, ...], classes: int, gen: torch.Generator) -> torch.Tensor:
    """Smooth random class templates of `shape` (low-resolution noise, upsampled)."""
    if len(shape) == 2:
        low = torch.randn(classes, shape[0], max(2, shape[1] // 4), generator=gen)
        return torch.nn.functional.interpolate(low, size=shape[1], mode="linear")
    low = torch.randn(classes, shape[0], 4, 4, generator=gen)
    return torch.nn.functional.interpolate(low, size=shape[1:], mode="bilinear")


def _synthetic_data(
    shape: tuple[int, ...], classes: int, n_train: int, n_test: int, noise: float, seed: int
) -> RawData:
    gen = torch.Generator().manual_seed(seed)
    templates = _templates(shape, classes, gen)
    templates = templates / templates.flatten(1).std(dim=1).view(-1, *[1] * len(shape))

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % classes
        y = y[torch.randperm(n, generator=gen)]
        x = templates[y] + noise * torch.randn(n, *shape, generator=gen)
        return x.float(), y

    x, y = draw(n_train)
    xt, yt = draw(n_test)
    mean, std = float(x.mean()), float(x.std())
    return RawData((x - mean) / std, y, (xt - mean) / std, yt, num_classes=classes)


def _synthetic(
    root: Path,
    download: bool,
    n_train: int = 2000,
    n_test: int = 500,
    length: int = 32,
    classes: int = 10,
    noise: float = 1.5,
    seed: int = 1234,
) -> RawData:
    """A small 1×length sequence task: smooth class templates plus Gaussian noise."""
    return _synthetic_data((1, length), classes, n_train, n_test, noise, seed)


def _synthetic_image(
    root: Path,
    download: bool,
    n_train: int = 1000,
    n_test: int = 200,
    size: int = 32,
    channels: int = 3,
    classes: int = 10,
    noise: float = 1.5,
    seed: int = 1234,
) -> RawData:
    """A CIFAR-shaped image task: smooth class templates plus Gaussian noise."""
    raw = _synthetic_data((channels, size, size), classes, n_train, n_test, noise, seed)
    raw.augment = pad_crop_flip  # available (augment=true), off by default
    return raw


register_dataset(
    "mnist1d",
    DatasetEntry(
        _mnist1d,
        "MNIST-1D (mnist1d.make_dataset defaults): 4,000 train / 1,000 test sequences",
        (1, 40),
        10,
    ),
)
register_dataset(
    "digits",
    DatasetEntry(
        _digits,
        "scikit-learn digits, 8×8 upsampled to 1×28×28: 1,437 train / 360 test",
        (1, 28, 28),
        10,
    ),
)
register_dataset(
    "synthetic",
    DatasetEntry(
        _synthetic,
        "synthetic 1×32 sequences, 10 classes (templates + noise): 2,000 train / 500 test",
        (1, 32),
        10,
        notes="dataset_options: n_train, n_test, length, classes, noise, seed",
    ),
)
register_dataset(
    "synthetic-image",
    DatasetEntry(
        _synthetic_image,
        "synthetic CIFAR-shaped 3×32×32 images, 10 classes: 1,000 train / 200 test",
        (3, 32, 32),
        10,
        notes="dataset_options: n_train, n_test, size, channels, classes, noise, seed",
    ),
)

# The torchvision-backed datasets register themselves on import.
from workbench.train import vision as _vision  # noqa: E402,F401
