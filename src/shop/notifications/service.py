"""Notifications' operations. A send is recorded under its idempotency key in the same
transaction as its event, so a redelivered command finds the first send and stops."""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select

from shop.common.publishing import Publisher
from shop.contracts.notifications import NotificationSent
from shop.notifications.schemas import NewNotification, Notification
from shop.notifications.tables import notifications
from tidings import audit
from tidings.errors import IntegrityError, NotFound
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work


class NotificationsService:
    def __init__(self, database: Database, publisher: Publisher) -> None:
        self.database = database
        self.publisher = publisher

    async def send(self, new: NewNotification) -> tuple[Notification, bool]:
        """Send once per idempotency key: ``(notification, True)`` the first time,
        ``(the first notification, False)`` on every repeat."""
        try:
            return await self._send_once(new)
        except IntegrityError:
            # A concurrent send with the same key committed first: the unique key
            # refused ours, and theirs is the send.
            async with unit_of_work(self.database) as uow:
                first = await _find(uow, new.idempotency_key)
            if first is None:
                raise
            return first, False

    async def _send_once(self, new: NewNotification) -> tuple[Notification, bool]:
        async with unit_of_work(self.database) as uow:
            return await self.send_in(uow, new, self.publisher)

    async def send_in(
        self, uow: UnitOfWork, new: NewNotification, publisher: Publisher
    ) -> tuple[Notification, bool]:
        """:meth:`send` in the caller's unit of work (a consumer's, with its inbox row).

        A concurrent send of the same key makes this one fail with
        :class:`IntegrityError`; retried, it finds the first send.
        """
        existing = await _find(uow, new.idempotency_key)
        if existing is not None:
            return existing, False
        notification_id = str(uuid.uuid4())
        await uow.execute(
            insert(notifications).values(id=notification_id, **new.model_dump(), sent_at=utcnow())
        )
        await audit.record(uow, action="send", entity="notification", entity_id=notification_id)
        await publisher.publish(
            uow,
            NotificationSent(
                notification_id=notification_id,
                idempotency_key=new.idempotency_key,
                recipient=new.recipient,
            ),
        )
        sent = await _find(uow, new.idempotency_key)
        if sent is None:  # pragma: no cover - the row was inserted just above
            raise NotFound(f"notification {notification_id} vanished in its own transaction")
        return sent, True

    async def get(self, notification_id: str) -> Notification:
        async with unit_of_work(self.database) as uow:
            row = (
                await uow.execute(
                    select(notifications).where(notifications.c.id == notification_id)
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"notification {notification_id} does not exist")
        return Notification.model_validate(dict(row._mapping))

    async def page(
        self, *, recipient: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Notification], int]:
        where = [] if recipient is None else [notifications.c.recipient == recipient]
        async with unit_of_work(self.database) as uow:
            total = (
                await uow.execute(select(func.count()).select_from(notifications).where(*where))
            ).scalar_one()
            rows = await uow.execute(
                select(notifications)
                .where(*where)
                .order_by(notifications.c.sent_at, notifications.c.id)
                .limit(limit)
                .offset(offset)
            )
            return [Notification.model_validate(dict(r._mapping)) for r in rows], int(total)


async def _find(uow: UnitOfWork, key: str) -> Notification | None:
    row = (
        await uow.execute(select(notifications).where(notifications.c.idempotency_key == key))
    ).one_or_none()
    return None if row is None else Notification.model_validate(dict(row._mapping))
