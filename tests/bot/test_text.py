"""Normalisation: width, script, typos, fillers, and the token filters."""

from __future__ import annotations

from bot.text import ConditionalTypo, Normaliser, blank_stickers, fold, is_clause_break, is_content, t2s_table


def test_fold_turns_traditional_into_simplified():
    assert fold("離婚冷靜期") == "离婚冷静期"
    assert fold("他喝醉酒把我從樓梯上推下來") == "他喝醉酒把我从楼梯上推下来"


def test_fold_reads_the_traditional_particle_zhe_as_the_simplified_one():
    assert fold("他拿著刀") == "他拿着刀"


def test_fold_turns_full_width_into_ascii_and_lowers_case():
    assert fold("ＨＰＶ疫苗１２３") == "hpv疫苗123"
    assert fold("，？！") == ",?!"


def test_fold_keeps_length_for_chinese_so_offsets_still_point_into_the_message():
    text = "我被鎖在屋裡出不去"
    assert len(fold(text)) == len(text)


def test_simplified_text_is_unchanged():
    text = "婆婆天天骂我 老公也不管"
    assert fold(text) == text


def test_character_table_is_built_once():
    assert t2s_table() is t2s_table()
    assert t2s_table()[ord("離")] == ord("离")


def test_typos_and_homophones_are_corrected():
    norm = Normaliser(typos={"离昏": "离婚", "调节": "调解", "探试": "探视"})
    assert norm.correct("离昏", "") == "离婚"
    assert norm.correct("调节", "") == "调解"
    assert norm.correct("探试", "") == "探视"
    assert norm.correct("婆婆", "") == "婆婆"


def test_typo_keys_may_be_written_in_traditional_characters():
    norm = Normaliser(typos={"離昏": "離婚"})
    assert norm.correct("离昏", "") == "离婚"


def test_conditional_typo_applies_only_when_the_message_is_about_a_child():
    norm = Normaliser(conditional={"扶养费": ConditionalTypo("抚养费", frozenset({"孩子", "儿子"}))})
    assert norm.correct("扶养费", "他不给孩子扶养费") == "抚养费"
    assert norm.correct("扶养费", "夫妻之间的扶养费") == "扶养费"


def test_fillers_numbers_emoji_and_punctuation_are_dropped():
    norm = Normaliser(fillers=frozenset({"那个", "就是", "然后", "嗯"}))
    tokens = ["嗯", "那个", "我", "就是", "想", "然后", "离婚", "😭", "123", "，", " "]
    assert norm.normalise_tokens(tokens) == ["我", "想", "离婚"]


def test_content_and_clause_breaks():
    assert is_content("离婚") and is_content("hpv")
    assert not is_content("110") and not is_content("🌸") and not is_content("，")
    assert is_clause_break("，") and is_clause_break("?") and is_clause_break(" ")
    assert not is_clause_break("的")


def test_pinyin_phrases_become_characters_longest_first():
    norm = Normaliser(pinyin={"bu xiang huo le": "不想活了", "bu xiang": "不想", "ta": "他"})
    assert norm.from_pinyin("bu xiang huo le, ta zou le") == "不想活了, 他zou le"
    assert norm.from_pinyin("hi") == "hi"  # one Latin word is never read as pinyin
    assert norm.from_pinyin("你好 ta") == "你好 ta"


def test_wechat_stickers_are_blanked_and_offsets_kept():
    text = "俺手机不会弄[捂脸]他又打我了[流泪]"
    blanked = blank_stickers(text)
    assert len(blanked) == len(text)
    assert "捂" not in blanked and "流泪" not in blanked
    assert blanked.startswith("俺手机不会弄[") and "他又打我了[" in blanked
    # Her own words in other brackets, and Latin in square brackets, stay.
    assert blank_stickers("【求助】他打我") == "【求助】他打我"
    assert blank_stickers("[ok]") == "[ok]"
