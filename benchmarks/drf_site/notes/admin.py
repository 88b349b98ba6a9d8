"""The model in the admin, as the tutorial does."""

from django.contrib import admin
from notes.models import Note

admin.site.register(Note)
