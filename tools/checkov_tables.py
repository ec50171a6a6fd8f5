"""Write the JSONPath parser's tables into the tools venv, once.

    .venv-tools/bin/python tools/checkov_tables.py   (make tools-venv runs it)

checkov parses CloudFormation's JSONPaths with bc_jsonpath_ng, whose parser
asks PLY for its LALR tables at every parse and, finding no table module
(it never writes one), builds them from the grammar again: about 60 ms each,
some 110 times per template, over half of a checkov run. PLY reads a table
module if one sits beside the parser and its signature matches the grammar
(else it builds the tables as before), so writing one per parser (the base
and the extended one) leaves checkov's answers byte for byte the same."""

import logging
import os

import ply.yacc
from bc_jsonpath_ng import parser
from bc_jsonpath_ng.ext import parser as ext_parser


def main() -> None:
    for module, parser_class in (
        (parser, parser.JsonPathParser),
        (ext_parser, ext_parser.ExtentedJsonPathParser),
    ):
        # The name the parser asks PLY for (bc_jsonpath_ng/parser.py):
        # <module file's name>_<start symbol>_parsetab, beside the module.
        name = os.path.splitext(os.path.basename(module.__file__))[0] + '_jsonpath_parsetab'
        ply.yacc.yacc(
            module=parser_class(),
            tabmodule=name,
            outputdir=os.path.dirname(module.__file__),
            write_tables=True,
            start='jsonpath',
            debug=False,
            errorlog=logging.getLogger(__name__),
        )


if __name__ == '__main__':
    main()
