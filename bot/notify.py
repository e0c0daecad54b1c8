"""Notifiers: alerts to staff outside the workspace, sent by the worker and retried.

- 企业微信 group robot: POST the robot's webhook URL with `{"msgtype": "text", "text":
  {"content": ...}}` (or `markdown`); the answer's `errcode` 0 means delivered.
- Telegram: `sendMessage` to a chat (the channel's own sender, bot/channels/telegram.py).
- WeChat template messages (`message/template/send`, wechatpy's `send_template`) to staff
  who linked their WeChat openid; the template's `first` carries the alert, `keyword1`
  the reference, `remark` what to do.

Like the outbox: each `alert_delivery` row is claimed with a conditional UPDATE, sent
outside any transaction, and settled; transient errors are retried with doubling delays.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select, update
from wechatpy.exceptions import WeChatClientException

from bot.channels import DeliveryError, channel
from bot.settings import Settings
from models import AlertDelivery, Database, utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
# A row in `sending` this long belongs to a worker that died mid-send. Unlike a message
# to her, an alert sent twice harms no one and one never sent may: it is tried again.
SENDING_LEASE = timedelta(minutes=5)
# 企业微信 robot errcodes that another try cannot fix: a wrong or deleted robot URL.
WECOM_PERMANENT = {93000: "机器人地址无效", 93004: "机器人已被删除", 40008: "消息类型无效"}
WECHAT_TEMPLATE_PERMANENT = {40037: "模板 ID 无效", 43004: "对方未关注公众号", 40003: "openid 无效"}


class Notifiers:
    def __init__(self, settings: Settings, timeout: float = 10) -> None:
        self.settings = settings
        self.timeout = timeout
        self._telegram: Any = None
        self._wechat: Any = None

    def send(self, via: str, target: str, text: str, reference: str) -> None:
        """Deliver one alert through notifier `via`, or raise DeliveryError."""
        if via == "wecom":
            return self._wecom(target, text)
        if via == "telegram":
            self._telegram = self._telegram or channel("telegram").sender(self.settings)
            return self._telegram.send(target, text)
        if via == "wechat":
            return self._wechat_template(target, text, reference)
        raise DeliveryError(f"未知的通知方式 {via}", permanent=True)

    def _wecom(self, url: str, text: str) -> None:
        kind = self.settings.notify.wecom_msgtype
        try:
            response = requests.post(url, json={"msgtype": kind, kind: {"content": text}}, timeout=self.timeout)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise DeliveryError(f"无法连接企业微信机器人（{type(exc).__name__}）") from None
        errcode = body.get("errcode")
        if errcode == 0:
            return
        if errcode in WECOM_PERMANENT:
            raise DeliveryError(f"企业微信 errcode {errcode}：{WECOM_PERMANENT[errcode]}", permanent=True)
        raise DeliveryError(f"企业微信 errcode {errcode}")

    def _wechat_template(self, openid: str, text: str, reference: str) -> None:
        self._wechat = self._wechat or channel("wechat").sender(self.settings).client
        data = {
            "first": {"value": text},
            "keyword1": {"value": reference},
            "remark": {"value": "请登录娘家工作台处理"},
        }
        try:
            self._wechat.message.send_template(openid, self.settings.notify.wechat_template_id, data)
        except WeChatClientException as exc:
            if exc.errcode in WECHAT_TEMPLATE_PERMANENT:
                raise DeliveryError(
                    f"微信 errcode {exc.errcode}：{WECHAT_TEMPLATE_PERMANENT[exc.errcode]}", permanent=True
                ) from None
            raise DeliveryError(f"微信接口错误 errcode {exc.errcode}") from None
        except Exception as exc:  # network errors: try again later
            raise DeliveryError(f"无法连接微信接口（{type(exc).__name__}）") from None


class AlertCourier:
    """Sends due alert deliveries; several workers may run (rows are claimed atomically)."""

    def __init__(self, db: Database, settings: Settings, notifiers: Notifiers | None = None,
                 write_lock: AbstractContextManager | None = None) -> None:
        self.db = db
        self.settings = settings
        self.notifiers = notifiers or Notifiers(settings)
        self.write_lock = write_lock or nullcontext()

    def deliver_due(self, now: datetime | None = None, limit: int = 50) -> int:
        """Send what is due; the number of rows handled."""
        now = now or utcnow()
        with self.write_lock, self.db.transaction() as session:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.status == "sending", AlertDelivery.next_attempt_at < now - SENDING_LEASE)
                .values(status="pending")
            )
        with self.db.session() as session:
            due = list(session.scalars(
                select(AlertDelivery.id)
                .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id).limit(limit)
            ))
        handled = 0
        for row_id in due:
            claimed = self._claim(row_id, now)
            if claimed is None:
                continue
            via, target, text, reference = claimed
            try:
                self.notifiers.send(via, target, text, reference)
                error = None
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug in a notifier must not stop the worker
                log.error("notifier %s raised %s", via, type(exc).__name__)
                error = DeliveryError(f"发送出错（{type(exc).__name__}）")
            self._settle(row_id, error, utcnow())
            handled += 1
        return handled

    def _claim(self, row_id: int, now: datetime) -> tuple[str, str, str, str] | None:
        with self.write_lock, self.db.transaction() as session:
            won = session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == row_id, AlertDelivery.status == "pending")
                .values(status="sending", attempts=AlertDelivery.attempts + 1, next_attempt_at=now)
            ).rowcount == 1
            if not won:
                return None
            item = session.get(AlertDelivery, row_id)
            return item.via, item.target, item.alert.text, item.alert.ticket.reference

    def _settle(self, row_id: int, error: DeliveryError | None, now: datetime) -> None:
        with self.write_lock, self.db.transaction() as session:
            item = session.get(AlertDelivery, row_id)
            if error is None:
                item.status, item.sent_at, item.last_error = "sent", now, ""
                log.info("alert delivery %d sent by %s", item.id, item.via)
                return
            item.last_error = str(error)
            if error.permanent or item.attempts >= self.settings.worker.max_attempts:
                item.status = "failed"
                log.warning("alert delivery %d by %s failed after %d attempts", item.id, item.via, item.attempts)
                return
            delay = timedelta(seconds=self.settings.worker.backoff_seconds * 2 ** (item.attempts - 1))
            item.status, item.next_attempt_at = "pending", now + min(delay, MAX_BACKOFF)
