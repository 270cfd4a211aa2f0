"""The source is never the destination, under whatever name it is reached."""

from __future__ import annotations

import os

import pytest

from dbtwin import read, write
from dbtwin.errors import DestinationNotEmptyError
from dbtwin.io.locations import check_destination
from tests.conftest import assert_same_database
from tests.test_cli_safety import assert_clean_failure, invoke


def _respell(url: str) -> str:
    return url.replace("@127.0.0.1:", "@localhost:")


@pytest.mark.servers
@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_the_source_under_another_host_name_is_refused(request, server, company):
    url = request.getfixturevalue(server)
    write(company, url)
    other = _respell(url)
    assert other != url
    result = invoke("convert", url, other, "--replace")
    assert_clean_failure(result, "is the source itself")
    assert_same_database(company, read(url))


@pytest.mark.servers
def test_another_database_on_the_same_server_is_not_the_source(postgres_url, mariadb_url):
    check_destination(postgres_url, [mariadb_url])
    check_destination(postgres_url, [postgres_url.rsplit("/", 1)[0] + "/test"])


def test_a_hard_link_of_the_source_file_is_the_source(tmp_path, company):
    src = tmp_path / "src.sqlite"
    write(company, src)
    link = tmp_path / "link.sqlite"
    os.link(src, link)
    with pytest.raises(DestinationNotEmptyError, match="itself"):
        check_destination(link, [src])
    with pytest.raises(DestinationNotEmptyError, match="itself"):
        check_destination(f"sqlite:///{link}", [src])
    result = invoke("convert", src, link, "--replace")
    assert_clean_failure(result, "itself")
