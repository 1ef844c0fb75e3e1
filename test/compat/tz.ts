// fail2ban's sample annotations are local times in CET/CEST (its test sets TZ to the POSIX rule
// 'CET-01CEST-02,M3.5.0,M10.5.0'). V8/ICU does not read POSIX TZ rules, so the equivalent IANA
// zone is used; it must be set before any Date is used, hence this module is imported first.
process.env.TZ = 'Europe/Berlin';
export const SAMPLE_TZ = process.env.TZ;
