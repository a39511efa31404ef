from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Segmentation")

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from segmentation import (
            bench_segments,  # noqa: F401  (registers bench area "segments")
            demo,  # noqa: F401  (registers the seed_demo step)
            segment_tasks,  # noqa: F401  (beat task for saved segments)
        )
        from segmentation.saved_segments import materialise_after_run
        from segmentation.services import register_after_run_step

        # The last step of every run: snapshots of the saved segments against it, so
        # movement between runs ("Loyal → At risk this month") is kept.
        register_after_run_step(
            "segments", gettext_lazy("Updating saved segments"), materialise_after_run
        )
