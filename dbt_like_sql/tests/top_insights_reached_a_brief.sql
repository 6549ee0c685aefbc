-- Every top insight reached at least one brief, and was delivered at most as often.
{{ config(severity='error') }}
select *
from {{ ref('top_insights_daily') }} as t
where t.n_briefs < 1 or t.n_delivered > t.n_briefs
