"""URLs of the benchmark project: a sync hello view and an async view that awaits I/O."""

from benchsite import views
from django.urls import path

urlpatterns = [
    path("hello", views.hello),
    path("io", views.io),
    path("page", views.page),
]
