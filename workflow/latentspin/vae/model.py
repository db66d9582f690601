"""The variational autoencoder of the paper's Fig. 6 and Methods.

Encoder: four (periodic-padded 3×3 conv, BatchNorm, leaky ReLU, 2×2 max-pool) blocks, dense 512
(BN, leaky ReLU), dense 2N = (μ, log σ²). Decoder: dense 512 (BN, leaky ReLU), dense
(L/16)²·128 (BN, leaky ReLU), reshape, four (2× nearest upsampling, periodic-padded conv, BN,
leaky ReLU) blocks, a last periodic-padded conv to 3 channels and L2 normalization, so that
every output spin has unit length.

Where the paper is loose (docs/method.md): the decoder's dense layer has (L/16)²·128 units (Fig. 6's
16×16×128 cannot reach 128 after four upsamplings); the encoder's 200 outputs are μ and log σ²;
L_RC is the *mean* squared error over sites and components.

Beyond the paper: the decoder's *output amplitude*, the mean over sites of the length of its last
convolution's output before the L2 normalization (:func:`decoder_amplitude`). The normalization
makes every output a unit spin, however weak the signal it normalizes; a state decoded from an
amplitude far below that of decoded prior samples is one the network barely produces, e.g. a
uniform state manufactured from a weak, nearly constant output.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentspin.core.errors import DamagedFile
from latentspin.core.io import save_torch
from latentspin.core.stores import remake_hint
from latentspin.physics.observables import unit_vectors, vector_lengths
from latentspin.vae.layers import PeriodicConv2d

# The convolutions' feature maps are kept in channels-last (NHWC) memory layout, which oneDNN's
# CPU convolutions use without reordering at every call, so training, decoding and decoding with
# gradients run faster than in the default layout (docs/benchmarks.md). The same numbers up to
# float rounding; the decoder hands its output back in the default layout, which the objectives'
# lattice operations expect.
FEATURE_LAYOUT = torch.channels_last


@dataclass(frozen=True)
class VAEConfig:
    """Architecture parameters; saved with the weights so a model file rebuilds itself."""

    L: int = 128
    latent_dim: int = 100
    encoder_channels: tuple[int, ...] = (16, 32, 64, 128)
    decoder_channels: tuple[int, ...] = (64, 32, 16, 3)
    dense: int = 512
    kernel_size: int = 3
    # Leaky-ReLU slope: the paper does not give it. 0.3 is the Keras default; the paper's
    # periodic-padding and L2-normalization layers suggest Keras.
    negative_slope: float = 0.3
    components: int = field(default=3, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "encoder_channels", tuple(self.encoder_channels))
        object.__setattr__(self, "decoder_channels", tuple(self.decoder_channels))
        stages = len(self.encoder_channels)
        if len(self.decoder_channels) != stages:
            raise ValueError(f"vae.decoder_channels needs {stages} entries (one upsampling per encoder pooling), "
                             f"got {list(self.decoder_channels)}")
        if self.L % 2**stages or self.L // 2**stages < 2:
            # from a single cell, nearest upsampling and periodic convolutions decode only
            # uniform states
            raise ValueError(f"lattice.L = {self.L} must be a multiple of 2**{stages} = {2**stages} "
                             f"and at least {2 ** (stages + 1)}, for {stages} poolings")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"vae.kernel_size must be odd, got {self.kernel_size}")

    @property
    def bottleneck(self) -> int:
        """Side of the feature map after the encoder's poolings, L / 2**stages."""
        return self.L // 2 ** len(self.encoder_channels)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["encoder_channels"] = list(self.encoder_channels)
        d["decoder_channels"] = list(self.decoder_channels)
        return d


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        blocks, c_in = [], cfg.components
        for c in cfg.encoder_channels:
            blocks += [PeriodicConv2d(c_in, c, cfg.kernel_size), nn.BatchNorm2d(c),
                       nn.LeakyReLU(cfg.negative_slope), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * cfg.bottleneck**2, cfg.dense), nn.BatchNorm1d(cfg.dense), nn.LeakyReLU(cfg.negative_slope),
            nn.Linear(cfg.dense, 2 * cfg.latent_dim),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.features(x.contiguous(memory_format=FEATURE_LAYOUT))).chunk(2, dim=-1)
        return mu, logvar


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.start = (cfg.encoder_channels[-1], cfg.bottleneck, cfg.bottleneck)
        width = cfg.encoder_channels[-1] * cfg.bottleneck**2
        self.head = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.dense), nn.BatchNorm1d(cfg.dense), nn.LeakyReLU(cfg.negative_slope),
            nn.Linear(cfg.dense, width), nn.BatchNorm1d(width), nn.LeakyReLU(cfg.negative_slope),
        )
        blocks, c_in = [], cfg.encoder_channels[-1]
        for c in cfg.decoder_channels:
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), PeriodicConv2d(c_in, c, cfg.kernel_size),
                       nn.BatchNorm2d(c), nn.LeakyReLU(cfg.negative_slope)]
            c_in = c
        blocks.append(PeriodicConv2d(c_in, cfg.components, cfg.kernel_size))
        self.features = nn.Sequential(*blocks)

    def field(self, z: Tensor) -> Tensor:
        """The last convolution's output (n, 3, L, L), before the L2 normalization."""
        x = self.head(z).view(-1, *self.start).contiguous(memory_format=FEATURE_LAYOUT)
        return self.features(x).contiguous()

    def forward(self, z: Tensor) -> Tensor:
        return unit_vectors(self.field(z), dim=1)  # the L2-normalization layer: unit spins


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.to(memory_format=FEATURE_LAYOUT)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction through one reparameterized sample z = μ + σ ε; returns (x', μ, log σ²)."""
        mu, logvar = self.encoder(x)
        return self.decoder(reparameterize(mu, logvar, generator)), mu, logvar


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One sample z = μ + σ ε, ε ~ N(0, I) from `generator`, differentiable in μ and log σ²."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def _in_batches(fn, z: Tensor, batch_size: int) -> Tensor:
    return torch.cat([fn(z[s : s + batch_size]) for s in range(0, len(z), batch_size)])


@torch.no_grad()
def decode_in_batches(decoder, z: Tensor, batch_size: int = 100) -> Tensor:
    """Decoded states of codes z (n, N), batch by batch and without gradients, on z's device."""
    return _in_batches(decoder, z, batch_size)


@torch.no_grad()
def decode_fields_in_batches(decoder: Decoder, z: Tensor, batch_size: int = 100) -> Tensor:
    """The decoder's outputs before its L2 normalization (:meth:`Decoder.field`) for codes z,
    batch by batch and without gradients: unit_vectors(field, dim=1) are the decoded states."""
    return _in_batches(decoder.field, z, batch_size)


def output_amplitude(field: Tensor) -> Tensor:
    """Per state of a (n, 3, L, L) decoder output before normalization: the mean over sites of
    its length (module docstring)."""
    return vector_lengths(field, dim=1).mean(dim=(-2, -1))


def decoder_amplitude(decoder: Decoder, z: Tensor, batch_size: int = 100) -> Tensor:
    """Per code of z (n, N): the decoder's output amplitude, :func:`output_amplitude` of its
    output before the L2 normalization. On z's device, without gradients."""
    return output_amplitude(decode_fields_in_batches(decoder, z, batch_size))


def latent_radius(z: Tensor) -> Tensor:
    """|z| / √N of each code (..., N), in float64 on z's device: about 1 for prior samples
    z ~ N(0, I), whose squared length is χ²-distributed with mean N; 0 at the origin."""
    return z.detach().double().norm(dim=-1) / z.shape[-1] ** 0.5


def reconstruction_loss(x: Tensor, x_out: Tensor) -> Tensor:
    """L_RC: mean squared error over samples, sites and components."""
    return F.mse_loss(x_out, x)


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) || N(0, 1)) of each latent dimension, (..., N)."""
    return 0.5 * (logvar.exp() + mu**2 - logvar - 1.0)


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """L_KL: summed over latent dimensions, averaged over the batch (paper Eq. 2)."""
    return kl_per_dim(mu, logvar).sum(dim=-1).mean()


def weights_digest(state_dict: dict) -> str:
    """SHA-256 of a state dict's names and tensor bytes: what a model file is checked against."""
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(model: VAE, path, extra: dict | None = None):
    """Weights, the architecture, `extra` metadata and the weights' SHA-256, as tensors and plain
    containers only, so :func:`load_model` reads it with ``weights_only=True`` (no code executed)
    and can tell an altered file; written whole or not at all (:func:`latentspin.core.io.save_torch`)."""
    state = model.state_dict()
    save_torch({"config": model.cfg.as_dict(), "state_dict": state, "extra": extra or {},
                "sha256": weights_digest(state)}, path)


def load_model(path, map_location: str | torch.device = "cpu") -> VAE:
    """The model saved at `path` by :func:`save_model`, in evaluation mode. A file that is not
    such a model (cut short, altered: its weights no longer match their SHA-256, or with
    non-finite weights) raises :class:`~latentspin.core.errors.DamagedFile` naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")

    def damaged(what: str):
        return DamagedFile(f"{path}: {what}; {remake_hint(path)}")

    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 (cut short, not a torch file, another format: one remedy)
        raise damaged(f"not a readable model file ({type(e).__name__}: {' '.join(str(e).split())[:80]})") from None
    if not isinstance(blob, dict) or not {"config", "state_dict"} <= blob.keys():
        raise damaged("not a latentspin model file (no config and state_dict)")
    try:
        model = VAE(VAEConfig(**blob["config"]))
        model.load_state_dict(blob["state_dict"])
    except Exception as e:  # noqa: BLE001
        raise damaged(f"its weights do not fit its architecture ({type(e).__name__}: {str(e)[:160]})") from None
    if "sha256" in blob and weights_digest(blob["state_dict"]) != blob["sha256"]:
        raise damaged("its weights do not match the SHA-256 they were saved with: the file was altered")
    bad = [name for name, t in blob["state_dict"].items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise damaged(f"{len(bad)} weight tensors hold NaN or infinite values (first: {bad[0]})")
    model.extra = blob.get("extra", {})
    return model.eval()
