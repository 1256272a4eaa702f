"""Chinese names for demo residents: common surnames of the Pearl River Delta and given names.

Weights follow roughly how common each surname is in Guangzhou's villages
(陈, 李, 黄, 梁 lead); given names are one or two characters, drawn from lists
typical of each sex and generation.  Only for demo data.
"""

from __future__ import annotations

import random

SURNAMES: tuple[tuple[str, int], ...] = (
    ("陈", 14),
    ("李", 9),
    ("黄", 9),
    ("梁", 6),
    ("张", 6),
    ("刘", 5),
    ("林", 5),
    ("何", 4),
    ("罗", 4),
    ("邓", 3),
    ("谭", 3),
    ("冯", 3),
    ("周", 3),
    ("吴", 3),
    ("王", 3),
    ("郭", 2),
    ("钟", 2),
    ("曾", 2),
    ("朱", 2),
    ("徐", 2),
    ("叶", 2),
    ("杨", 2),
    ("谢", 2),
    ("麦", 2),
    ("邱", 1),
    ("潘", 1),
    ("江", 1),
    ("骆", 1),
    ("毕", 1),
    ("汤", 1),
    ("卢", 1),
    ("汪", 1),
    ("欧阳", 1),
    ("司徒", 1),
)

MALE = (
    "伟",
    "强",
    "明",
    "军",
    "华",
    "国",
    "建",
    "志",
    "文",
    "俊",
    "杰",
    "浩",
    "永",
    "家",
    "荣",
    "锦",
    "耀",
    "振",
    "德",
    "兴",
    "海",
    "辉",
    "健",
    "斌",
    "炳",
    "添",
    "福",
    "桂",
    "权",
    "培",
    "灿",
    "彬",
    "泽",
    "宇",
    "轩",
    "梓",
    "豪",
    "铭",
    "昊",
    "晨",
    "嘉",
    "钊",
)
FEMALE = (
    "芳",
    "娟",
    "敏",
    "静",
    "丽",
    "燕",
    "霞",
    "玲",
    "婷",
    "红",
    "艳",
    "萍",
    "秀",
    "凤",
    "桂",
    "群",
    "少",
    "月",
    "惠",
    "珍",
    "妹",
    "嫦",
    "娇",
    "彩",
    "颖",
    "欣",
    "怡",
    "琳",
    "诗",
    "雅",
    "晴",
    "梓",
    "思",
    "佳",
    "嘉",
    "玉",
    "兰",
    "英",
    "洁",
    "雪",
    "婉",
    "倩",
)


def random_name(rng: random.Random, male: bool) -> str:
    """A surname and a one- or two-character given name."""
    names = [s for s, _ in SURNAMES]
    weights = [w for _, w in SURNAMES]
    surname = rng.choices(names, weights)[0]
    pool = MALE if male else FEMALE
    given = rng.choice(pool)
    if rng.random() < 0.75:
        second = rng.choice(pool)
        if second != given:
            given += second
    return surname + given
