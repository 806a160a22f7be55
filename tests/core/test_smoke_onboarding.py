from tests.core.conftest import Neighbours


async def test_join(hood: Neighbours) -> None:
    await hood.join("alice")
    for t in hood.texts("alice"):
        print("---", t)
    assert hood.platform.room_of("alice")
