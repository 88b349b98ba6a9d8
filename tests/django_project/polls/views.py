"""Sync, async and streaming views the tests exercise."""

import asyncio

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from polls.models import Choice, Question

# Set by /polls/release/; /polls/stream/ waits for it between its two chunks,
# so a test can see the first chunk arrive before the second exists.
_released: asyncio.Event | None = None


def index(request):
    return render(request, "polls/index.html", {"questions": Question.objects.order_by("id")})


def detail(request, question_id):
    return render(request, "polls/detail.html", {"question": get_object_or_404(Question, pk=question_id)})


def vote(request, question_id):
    question = get_object_or_404(Question, pk=question_id)
    try:
        choice = question.choice_set.get(pk=request.POST["choice"])
    except (KeyError, Choice.DoesNotExist):
        return render(request, "polls/detail.html", {"question": question, "error_message": "You didn't select a choice."})
    choice.votes += 1
    choice.save()
    return HttpResponseRedirect(reverse("polls:results", args=(question.id,)))


def results(request, question_id):
    return render(request, "polls/results.html", {"question": get_object_or_404(Question, pk=question_id)})


async def async_hello(request):
    count = await Question.objects.acount()
    return HttpResponse(f"async view: {count} question(s)")


async def slow(request):
    await asyncio.sleep(float(request.GET.get("s", "0.5")))
    return HttpResponse("slept")


def _event() -> asyncio.Event:
    global _released
    if _released is None:
        _released = asyncio.Event()
    return _released


async def stream(request):
    async def chunks():
        yield b"first\n"
        await _event().wait()
        yield b"second\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def release(request):
    _event().set()
    return HttpResponse("released")


def visits(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return HttpResponse(f"visits: {request.session['visits']}")


def boom(request):
    return 1 / 0


def greeting(request):
    return HttpResponse(settings.GREETING)
