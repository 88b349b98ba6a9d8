"""The admin, a DRF router over the one model, and the view the reload measurement edits."""

from django.contrib import admin
from django.urls import include, path
from notes import views
from rest_framework import routers

router = routers.DefaultRouter()
router.register("notes", views.NoteViewSet)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("hello", views.hello),
]
