from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Segmentation")

    def ready(self) -> None:
        from segmentation import (
            bench_segments,  # noqa: F401  (registers bench area "segments")
            demo,  # noqa: F401  (registers the seed_demo step)
            segment_tasks,  # noqa: F401  (beat task for saved segments)
        )
