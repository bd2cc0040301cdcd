"""How much memory and time a transcription gets, by the size of its Whisper model.

A model's size class comes from its parameter count (model.bin's header, recorded
in its manifest), so a fine-tuned or differently quantized conversion of medium
gets medium's limits. Figures and their sources: docs/BENCHMARKS.md, "Model sizes".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelLimits:
    """The sandbox's limits for one transcription.

    Parameters:
      size: the size class (base, small, medium, large).
      memory_mb: the engine process's address-space limit.
      load_seconds: the time allowed besides the audio (process start, checking and loading the model).
      seconds_per_audio_second: the time allowed per second of audio.
    """

    size: str
    memory_mb: int
    load_seconds: float
    seconds_per_audio_second: float

    def run_seconds(self, audio_seconds: float) -> float:
        """The time limit of a run over ``audio_seconds`` of audio."""
        return self.load_seconds + self.seconds_per_audio_second * audio_seconds


# (most parameters, limits), smallest first. Whisper tiny 38 M and base 73 M (as CTranslate2
# counts them), small 242 M, medium 764 M, large-v3-turbo 809 M, large-v1/v2/v3 1.54 G.
# base: measured here (VmPeak 1.3 GiB on a 5-minute lecture; real-time factor 0.17 on 2 busy
# threads, 4.5 times under the limit). The others scale base's by published figures: estimates.
SIZE_CLASSES: tuple[tuple[float, ModelLimits], ...] = (
    (150e6, ModelLimits("base", 3072, 120, 0.75)),
    (450e6, ModelLimits("small", 4096, 180, 1.75)),
    (1.2e9, ModelLimits("medium", 6144, 300, 4.0)),
    (float("inf"), ModelLimits("large", 10240, 600, 8.0)),
)
BASE = SIZE_CLASSES[0][1]


def limits_for(parameters: int | None, *, memory_mb: int | None = None,
               seconds_per_audio_second: float | None = None) -> ModelLimits:
    """The limits of a model of ``parameters`` weights (None: the pinned base), with the operator's
    overrides (TRANSCRIBE_MEMORY_MB, TRANSCRIBE_SECONDS_PER_AUDIO_SECOND) where given."""
    limits = BASE if parameters is None else next(limits for most, limits in SIZE_CLASSES if parameters <= most)
    return ModelLimits(
        limits.size,
        memory_mb if memory_mb is not None else limits.memory_mb,
        limits.load_seconds,
        seconds_per_audio_second if seconds_per_audio_second is not None else limits.seconds_per_audio_second,
    )
