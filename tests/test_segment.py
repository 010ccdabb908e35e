import threading

import pytest

from dispatch_nlp.text.segment import Segmenter

TEXT = "市民反映顺义区牛栏山镇北孙各庄村有人私搭乱建，联系电话<手机号>，希望尽快处理"


@pytest.mark.parametrize("engine", ["jieba", "rjieba"])
def test_user_words_come_out_whole_with_offsets(engine):
    seg = Segmenter(["牛栏山镇", "北孙各庄村", "私搭乱建"], engine=engine)
    tokens = seg.tokenize(TEXT)
    words = [w for w, _, _ in tokens]
    assert {"牛栏山镇", "北孙各庄村", "私搭乱建", "<手机号>"} <= set(words)
    assert "".join(words) == TEXT
    for w, s, e in tokens:
        assert TEXT[s:e] == w


def test_engines_agree_on_the_same_dictionary():
    words = ["牛栏山镇", "北孙各庄村", "私搭乱建"]
    assert Segmenter(words, "jieba").words(TEXT) == Segmenter(words, "rjieba").words(TEXT)


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(ValueError, match="jieba, rjieba"):
        Segmenter([], engine="thulac")


def test_safe_from_threads():
    seg = Segmenter(["私搭乱建"], engine="rjieba")
    expected = seg.words(TEXT)
    results, errors = [], []

    def work():
        try:
            for _ in range(200):
                results.append(seg.words(TEXT) == expected)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(results) and len(results) == 800
