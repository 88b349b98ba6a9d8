"""A FastAPI app of the size a tutorial ends with: a pydantic model and two routes.

The reload measurement copies this file and rewrites TOKEN on each edit.
"""

from fastapi import FastAPI
from pydantic import BaseModel

TOKEN = "token-000"

app = FastAPI(title="reload benchmark")


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/")
async def root() -> dict[str, str]:
    return {"token": TOKEN}


@app.post("/items")
async def create_item(item: Item) -> Item:
    return item
