from django.urls import path

from polls import views

app_name = "polls"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:question_id>/", views.detail, name="detail"),
    path("<int:question_id>/vote/", views.vote, name="vote"),
    path("<int:question_id>/results/", views.results, name="results"),
    path("async/", views.async_hello, name="async"),
    path("slow/", views.slow, name="slow"),
    path("stream/", views.stream, name="stream"),
    path("release/", views.release, name="release"),
    path("visits/", views.visits, name="visits"),
    path("boom/", views.boom, name="boom"),
    path("greeting/", views.greeting, name="greeting"),
]
