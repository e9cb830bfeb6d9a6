"""The definition of an offline spoken-digit set (:class:`SpokenDigitsConfig`) and SHD's
size, apart from the generator so that the command line reads them without loading torch
or eSpeak. Public path: :mod:`elm_snn.synth.spoken_digits`.
"""

from __future__ import annotations

import dataclasses

from elm_snn.synth._utterances import Speaker

__all__ = ["GENERATOR_VERSIONS", "SHD_NUM_TEST", "SHD_NUM_TRAIN", "SpokenDigitsConfig"]

#: Generator versions :class:`SpokenDigitsConfig` accepts (the last is the default).
GENERATOR_VERSIONS = (2, 3)

#: Size of the real SHD (Cramer et al. 2020): training and test samples.
SHD_NUM_TRAIN = 8156
SHD_NUM_TEST = 2264


@dataclasses.dataclass(frozen=True)
class SpokenDigitsConfig:
    """What defines an offline spoken-digit set: the same config (and the same installed
    eSpeak NG) gives the same files. Checked by
    :func:`~elm_snn.synth.spoken_digits.generate_spoken_digits`.

    Attributes:
        per_class: training utterances per class (>= 1).
        seed: seed of everything random (>= 0).
        test_per_class: test utterances per class; default ``max(1, round(per_class / 4))``
            (SHD: 2264 test vs 8156 training samples).
        num_train: total training samples instead of ``per_class`` (>= 20; split over the
            classes as evenly as possible). :data:`SHD_NUM_TRAIN` gives SHD's size.
        num_test: total test samples instead of ``test_per_class`` (:data:`SHD_NUM_TEST`).
        speakers: the speakers; default
            :func:`~elm_snn.synth.spoken_digits.default_speakers` ``(num_speakers, seed)``.
        num_speakers: number of default speakers (ignored when ``speakers`` is given).
        test_speakers: how many speakers (the last ones) are held out for the test file.
        num_channels: cochlea channels (SHD: 700; fewer only for quick experiments).
        rate_jitter: relative jitter of the speaking rate per utterance (uniform +-).
        pitch_jitter: jitter of the pitch per utterance (uniform integer +-, eSpeak units).
        formant_jitter: relative jitter of the formant scale per utterance (uniform +-):
            no speaker says a word twice with quite the same vocal tract.
        margin_ms: silence kept before and after the speech before padding (ms).
        time_dtype: on-disk dtype of spike times (``"float16"`` as real SHD, or
            ``"float32"``/``"float64"``).
        generator_version: which generator makes the spikes (recorded in the manifest as
            ``format_version``): 3 (the default) runs the fast cochlea, each channel's
            fibres drawing from a stream of its own; 2 makes the files of elm-snn before
            version 3 bit for bit (one stream for all fibres, about 4x the CPU time). The
            two give the same spike statistics, not the same spikes.
    """

    per_class: int = 20
    seed: int = 0
    test_per_class: int | None = None
    num_train: int | None = None
    num_test: int | None = None
    speakers: tuple[Speaker, ...] | None = None
    num_speakers: int = 12
    test_speakers: int = 2
    num_channels: int = 700
    rate_jitter: float = 0.06
    pitch_jitter: int = 5
    formant_jitter: float = 0.06
    margin_ms: float = 40.0
    time_dtype: str = "float16"
    generator_version: int = 3
