"""Writes firms.xls, the Excel 97-2003 workbook that tests/excel.rs reads.

The file is committed; this script says how it was made:
    python3 -m venv /tmp/xlwt && /tmp/xlwt/bin/pip install xlwt==1.3.0
    /tmp/xlwt/bin/python tests/workbooks/make_xls.py
Its rows are those of `firms_workbook()` in tests/excel.rs that an .xls can
hold the same way (rows 1-5, 7 and 9 of the sheet).
"""

import datetime
import os

import xlwt

HEADER = ["统一社会信用代码", "企业名称", "行政区划代码", "营业收入", "裁员率", "职工人数", "成立日期", "严重失信"]
DATE = xlwt.easyxf(num_format_str="YYYY-MM-DD")

book = xlwt.Workbook(encoding="utf-8")
sheet = book.add_sheet("企业")
for c, h in enumerate(HEADER):
    sheet.write(0, c, h)
# row 2: numbers, a date cell, a boolean
for c, v in enumerate(["91350100M000100Y43", "甲公司", 420102, 12.5, 0.1, 30]):
    sheet.write(1, c, v)
sheet.write(1, 6, datetime.date(2019, 6, 30), DATE)
sheet.write(1, 7, False)
# row 3: texts, an empty cell
for c, v in enumerate(["91420102MA4K2L3R0G", " 乙公司 ", "420102", "12.5万", "5%"]):
    sheet.write(2, c, v)
sheet.write(2, 6, "2018/1/5")
sheet.write(2, 7, False)
# row 4: a date after 2020
for c, v in enumerate(["91420102MA4K2L3R63", None, 420102, 1234567.89, 0.055]):
    if v is not None:
        sheet.write(3, c, v)
sheet.write(3, 6, datetime.date(2024, 1, 5), DATE)
# row 5: an error cell
sheet.write(4, 0, "91420102MA4K2L3R76")
sheet.write(4, 2, 420102)
sheet.row(4).set_cell_error(3, 0x2A)  # #N/A (xlwt knows it by code only)
sheet.write(4, 4, 0.01)
# row 6 blank; row 7: a credit code stored as a number
sheet.write(6, 0, 914201020000000123.0)
sheet.write(6, 3, 100)
# row 9: dishonest
for c, v in enumerate(["91420115MABBHXGCXD", None, 420102, 100, 0.01]):
    if v is not None:
        sheet.write(8, c, v)
sheet.write(8, 6, datetime.date(2010, 3, 1), DATE)
sheet.write(8, 7, True)

book.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "firms.xls"))
