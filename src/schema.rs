//! The diesel schema shared by both backends. Kept by hand (see STACK notes):
//! `tests/api/database.rs` checks that every table here can be queried on
//! both SQLite and PostgreSQL after the migrations ran.
//! Longer than 400 lines: one `table!` block per table, and diesel wants the
//! schema in one module so every pair of tables can join.

diesel::table! {
    teams (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        full_name -> Text,
        role -> Text,
        team_id -> Nullable<BigInt>,
        password_hash -> Text,
        capacity_hours_per_week -> Double,
        hourly_rate_cents -> BigInt,
        is_active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_preference -> Text,
        time_zone -> Nullable<Text>,
        gamification -> Bool,
    }
}

diesel::table! {
    skills (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    user_skills (user_id, skill_id) {
        user_id -> BigInt,
        skill_id -> BigInt,
        level -> Integer,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_throttles (account) {
        account -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_devices (token_digest) {
        token_digest -> Text,
        account -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    projects (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        team_id -> Nullable<BigInt>,
        manager_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tasks (id) {
        id -> BigInt,
        title -> Text,
        description -> Text,
        project_id -> Nullable<BigInt>,
        priority -> Text,
        status -> Text,
        progress -> Integer,
        difficulty -> Integer,
        estimated_hours -> Double,
        due_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        created_by -> Nullable<BigInt>,
        last_progress_update_at -> Nullable<Timestamp>,
        last_progress_updated_by -> Nullable<BigInt>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    task_skills (task_id, skill_id) {
        task_id -> BigInt,
        skill_id -> BigInt,
        min_level -> Integer,
    }
}

diesel::table! {
    assignments (id) {
        id -> BigInt,
        task_id -> BigInt,
        user_id -> BigInt,
        status -> Text,
        source -> Text,
        estimated_hours -> Double,
        actual_hours -> Double,
        skill_match -> Nullable<Double>,
        assigned_by -> Nullable<BigInt>,
        assigned_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    task_progress (id) {
        id -> BigInt,
        task_id -> BigInt,
        user_id -> Nullable<BigInt>,
        previous_progress -> Integer,
        new_progress -> Integer,
        previous_status -> Text,
        new_status -> Text,
        notes -> Text,
        occupancy_status -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        title -> Text,
        body -> Text,
        task_id -> Nullable<BigInt>,
        read_at -> Nullable<Timestamp>,
        emailed_at -> Nullable<Timestamp>,
        archived_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        outcome -> Text,
        request_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        details -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> BigInt,
        idem_key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    presence_events (id) {
        id -> BigInt,
        user_id -> BigInt,
        status -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        state -> Text,
        attempt -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        result -> Nullable<Text>,
        last_error -> Nullable<Text>,
        unique_key -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    org_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    schedules (name) {
        name -> Text,
        job_kind -> Text,
        cron -> Text,
        timezone -> Text,
        enabled -> Bool,
        catch_up -> Text,
        last_slot -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    schedule_slots (schedule_name, slot) {
        schedule_name -> Text,
        slot -> Timestamp,
        job_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    hourly_rates (user_id, effective_from) {
        user_id -> BigInt,
        effective_from -> Date,
        rate_cents -> BigInt,
    }
}

diesel::table! {
    time_entries (id) {
        id -> BigInt,
        user_id -> BigInt,
        task_id -> BigInt,
        work_date -> Date,
        minutes -> Integer,
        note -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payroll_periods (id) {
        id -> BigInt,
        starts_on -> Date,
        ends_on -> Date,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        approved_by -> Nullable<BigInt>,
        approved_at -> Nullable<Timestamp>,
        paid_by -> Nullable<BigInt>,
        paid_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payroll_records (id) {
        id -> BigInt,
        period_id -> BigInt,
        user_id -> BigInt,
        rate_cents -> BigInt,
        minutes -> BigInt,
        pay_cents -> BigInt,
    }
}

diesel::table! {
    outbound_emails (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        unique_key -> Text,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    performance_logs (id) {
        id -> BigInt,
        user_id -> BigInt,
        assignment_id -> BigInt,
        task_id -> BigInt,
        completed_at -> Timestamp,
        on_time -> Bool,
        task_skill_match -> Double,
        difficulty -> Integer,
        hours_taken -> Double,
        days_early -> Nullable<Double>,
        task_estimation_accuracy -> Nullable<Double>,
        tasks_completed -> Integer,
        on_time_ratio -> Double,
        skill_accuracy -> Double,
        difficulty_factor -> Double,
        avg_completion_time -> Double,
        avg_completion_speed -> Double,
        experience_level -> Integer,
        performance_score -> Double,
        score_change -> Double,
        completion_rate -> Double,
        estimation_accuracy -> Double,
        workload_balance -> Double,
        skill_utilization -> Double,
        balanced_score -> Double,
        balanced_change -> Double,
        excluded -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    performance_totals (user_id) {
        user_id -> BigInt,
        completed -> Integer,
        on_time -> Integer,
        skill_sum -> Double,
        difficulty_sum -> Double,
        hours_sum -> Double,
        early_days_sum -> Double,
        due_count -> Integer,
        accuracy_sum -> Double,
        accuracy_count -> Integer,
        on_time_streak -> Integer,
        hard_completed -> Integer,
        performance_score -> Double,
        balanced_score -> Double,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    performance_snapshots (id) {
        id -> BigInt,
        user_id -> BigInt,
        snapshot_date -> Date,
        tasks_completed_today -> Integer,
        cumulative_tasks -> Integer,
        daily_on_time_ratio -> Double,
        cumulative_on_time_ratio -> Double,
        daily_performance_score -> Double,
        cumulative_performance_score -> Double,
        created_at -> Timestamp,
    }
}

diesel::table! {
    performance_milestones (id) {
        id -> BigInt,
        user_id -> BigInt,
        milestone_type -> Text,
        milestone_name -> Text,
        description -> Text,
        achieved_value -> Double,
        achievement_data -> Text,
        achieved_at -> Timestamp,
    }
}

diesel::table! {
    performance_badges (id) {
        id -> BigInt,
        user_id -> BigInt,
        badge_name -> Text,
        badge_description -> Text,
        badge_icon -> Text,
        criteria -> Text,
        criteria_value -> Double,
        is_active -> Bool,
        earned_at -> Timestamp,
    }
}

diesel::table! {
    performance_disputes (id) {
        id -> BigInt,
        log_id -> BigInt,
        user_id -> BigInt,
        field -> Text,
        note -> Text,
        status -> Text,
        decided_by -> Nullable<BigInt>,
        decision_note -> Text,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> teams (team_id));
diesel::joinable!(schedule_slots -> schedules (schedule_name));
diesel::joinable!(schedule_slots -> jobs (job_id));
diesel::joinable!(user_skills -> users (user_id));
diesel::joinable!(user_skills -> skills (skill_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(projects -> teams (team_id));
diesel::joinable!(tasks -> projects (project_id));
diesel::joinable!(task_skills -> tasks (task_id));
diesel::joinable!(task_skills -> skills (skill_id));
diesel::joinable!(assignments -> tasks (task_id));
diesel::joinable!(assignments -> users (user_id));
diesel::joinable!(task_progress -> tasks (task_id));
diesel::joinable!(task_progress -> users (user_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(hourly_rates -> users (user_id));
diesel::joinable!(time_entries -> users (user_id));
diesel::joinable!(time_entries -> tasks (task_id));
diesel::joinable!(payroll_records -> payroll_periods (period_id));
diesel::joinable!(payroll_records -> users (user_id));
diesel::joinable!(outbound_emails -> users (user_id));
diesel::joinable!(performance_logs -> users (user_id));
diesel::joinable!(performance_logs -> tasks (task_id));
diesel::joinable!(performance_totals -> users (user_id));
diesel::joinable!(performance_snapshots -> users (user_id));
diesel::joinable!(performance_milestones -> users (user_id));
diesel::joinable!(performance_badges -> users (user_id));
diesel::joinable!(performance_disputes -> performance_logs (log_id));

diesel::allow_tables_to_appear_in_same_query!(
    teams,
    users,
    skills,
    user_skills,
    api_tokens,
    sessions,
    login_throttles,
    login_devices,
    projects,
    tasks,
    task_skills,
    assignments,
    task_progress,
    notifications,
    audit_log,
    idempotency_keys,
    presence_events,
    jobs,
    org_settings,
    schedules,
    schedule_slots,
    hourly_rates,
    time_entries,
    payroll_periods,
    payroll_records,
    outbound_emails,
    performance_logs,
    performance_totals,
    performance_snapshots,
    performance_milestones,
    performance_badges,
    performance_disputes,
);
