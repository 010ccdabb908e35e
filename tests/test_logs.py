import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch_nlp.logs import MaskingFilter

mobiles = st.from_regex(r"1[3-9]\d{9}", fullmatch=True)


def _record(msg, args=(), exc_info=None):
    return logging.LogRecord("dispatch_nlp.test", logging.DEBUG, __file__, 1, msg, args, exc_info)


@settings(max_examples=100, deadline=None)
@given(mobiles)
def test_phone_in_message_or_args_never_reaches_the_log(mobile):
    f = MaskingFilter()
    for rec in (_record(f"来电人电话{mobile}"), _record("来电人电话%s，订单%s", (mobile, 7))):
        f.filter(rec)
        assert mobile not in rec.getMessage()


def test_exception_text_is_masked(capsys):
    logger = logging.getLogger("dispatch_nlp.test.exc")
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        try:
            raise ValueError("身份证11010519491231002X无效")
        except ValueError:
            logger.exception("失败，电话13912345678")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "13912345678" not in err and "11010519491231002X" not in err
    assert "<手机号>" in err and "<身份证号>" in err


def test_long_digit_runs_with_a_bad_checksum_are_hidden_in_logs():
    f = MaskingFilter()
    rec = _record("证件号110105194912310021有误")  # checksum wrong: not an ID to the masker, still hidden
    f.filter(rec)
    assert "110105194912310021" not in rec.getMessage()
