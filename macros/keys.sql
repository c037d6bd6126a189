{#- Keys: stable identifiers built from several columns. -#}

{#- surrogate_key(['carrier', 'flight', 'time_hour']): one VARCHAR key per distinct combination of the
    columns: the MD5 of their values as a JSON list, so NULL, '' and values holding separators never collide. -#}
{% macro surrogate_key(columns) -%}
    {%- if columns is string or columns | length == 0 -%}
        {{ raise_error("surrogate_key() takes a non-empty list of column names, e.g. surrogate_key(['a', 'b'])") }}
    {%- endif -%}
    {#- BigQuery's MD5 returns BYTES: the same hex digest of the same JSON text is TO_HEX(MD5(TO_JSON_STRING(…))) -#}
    {%- if dialect() == 'bigquery' -%}
    TO_HEX(MD5(TO_JSON_STRING([
    {%- for column in columns -%}
        CAST({{ column }} AS STRING){{ ", " if not loop.last }}
    {%- endfor -%}
    ])))
    {%- else -%}
    md5(to_json(list_value(
    {%- for column in columns -%}
        CAST({{ column }} AS VARCHAR){{ ", " if not loop.last }}
    {%- endfor -%}
    )))
    {%- endif -%}
{%- endmacro %}
