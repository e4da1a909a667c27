from django.apps import AppConfig


class TrainerConfig(AppConfig):
    name = "trainer"
    label = "trainer"
    verbose_name = "Training"
