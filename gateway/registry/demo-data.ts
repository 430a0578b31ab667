// Fixed material for the demo neighbourhood: an old residential quarter of Tianjin, its names and routines.

/** A plain object type (not core's GeoPoint interface), so it fits the document's open records. */
export type Point = { lat: number; lon: number };

export interface DemoCommunity {
  id: string;
  /** Bare name as it appears in addresses: 安达里3号楼2门401. */
  name: string;
  center: Point;
  buildings: number;
}

// Old 里 (lane) estates around the Heilongjiang-named roads; coordinates are plausible, not surveyed.
export const DEMO_COMMUNITIES: readonly DemoCommunity[] = [
  { id: 'andali', name: '安达里', center: { lat: 39.1215, lon: 117.179 }, buildings: 12 },
  { id: 'baiquanli', name: '拜泉里', center: { lat: 39.1178, lon: 117.1862 }, buildings: 10 },
  { id: 'fadianlou', name: '发电楼', center: { lat: 39.112, lon: 117.1935 }, buildings: 8 },
  { id: 'beiyidao', name: '北医道', center: { lat: 39.1065, lon: 117.181 }, buildings: 9 },
  { id: 'tailaixili', name: '泰来西里', center: { lat: 39.1012, lon: 117.1958 }, buildings: 11 },
  { id: 'hongyunxinli', name: '红云新里', center: { lat: 39.0968, lon: 117.2065 }, buildings: 10 },
  { id: 'hulinli', name: '虎林里', center: { lat: 39.1152, lon: 117.2041 }, buildings: 12 },
  { id: 'mishanli', name: '密山里', center: { lat: 39.124, lon: 117.212 }, buildings: 9 },
  { id: 'ninganli', name: '宁安里', center: { lat: 39.1046, lon: 117.215 }, buildings: 10 },
];

// Common surnames, the most frequent listed more than once so they come up more often.
export const SURNAMES = [
  '王',
  '王',
  '王',
  '李',
  '李',
  '李',
  '张',
  '张',
  '张',
  '刘',
  '刘',
  '陈',
  '陈',
  '杨',
  '杨',
  '赵',
  '赵',
  '黄',
  '周',
  '吴',
  '徐',
  '孙',
  '孙',
  '马',
  '朱',
  '胡',
  '郭',
  '何',
  '高',
  '林',
  '罗',
  '郑',
  '梁',
  '谢',
  '宋',
  '唐',
  '许',
  '韩',
  '冯',
  '邓',
  '曹',
  '彭',
  '肖',
  '田',
  '董',
  '袁',
  '潘',
  '于',
  '蒋',
  '蔡',
  '杜',
  '程',
  '苏',
  '魏',
  '吕',
  '丁',
  '任',
  '沈',
  '姚',
  '卢',
  '姜',
  '崔',
  '陆',
  '范',
  '金',
  '石',
  '贾',
  '夏',
  '付',
  '方',
  '白',
  '孟',
  '秦',
  '尹',
  '薛',
  '闫',
  '段',
  '侯',
  '史',
  '郝',
] as const;

// Given names typical of people born in the 1930s-1960s.
export const OLDER_FEMALE = [
  '桂兰',
  '秀英',
  '淑珍',
  '玉兰',
  '凤英',
  '桂英',
  '秀兰',
  '淑兰',
  '玉珍',
  '凤兰',
  '素珍',
  '秀珍',
  '桂芳',
  '淑芬',
  '玉芬',
  '秀芝',
  '桂珍',
  '淑英',
  '凤琴',
  '玉梅',
  '秀云',
  '桂荣',
  '淑华',
  '宝珍',
  '金凤',
  '素云',
  '翠兰',
  '月英',
  '兰英',
  '美英',
] as const;
export const OLDER_MALE = [
  '建国',
  '国强',
  '振华',
  '德明',
  '福海',
  '宝林',
  '长生',
  '永福',
  '树林',
  '庆祥',
  '德厚',
  '春生',
  '文华',
  '志刚',
  '国庆',
  '建华',
  '德顺',
  '富贵',
  '学文',
  '玉山',
  '金生',
  '广田',
  '立民',
  '胜利',
  '永祥',
  '宝山',
  '成林',
  '世昌',
  '家俊',
  '文斌',
] as const;

// Children, grandchildren and grid workers: born from the 1970s on.
export const YOUNGER_FEMALE = [
  '静',
  '丽',
  '敏',
  '燕',
  '艳',
  '娟',
  '霞',
  '芳',
  '婷',
  '雪',
  '琳',
  '倩',
  '海燕',
  '晓红',
  '丽娜',
  '春燕',
  '红梅',
  '晓梅',
  '佳怡',
  '雨欣',
] as const;
export const YOUNGER_MALE = [
  '伟',
  '磊',
  '强',
  '军',
  '勇',
  '杰',
  '涛',
  '斌',
  '超',
  '鹏',
  '浩',
  '明',
  '刚',
  '辉',
  '建军',
  '志强',
  '晓东',
  '海峰',
  '子轩',
  '浩然',
] as const;

export interface Relation {
  relation: string;
  female: boolean;
  /** Shares the resident's surname (own children and their children); in-laws do not. */
  sameSurname: boolean;
}

export const RELATIONS: readonly Relation[] = [
  { relation: '儿子', female: false, sameSurname: true },
  { relation: '女儿', female: true, sameSurname: true },
  { relation: '儿媳', female: true, sameSurname: false },
  { relation: '女婿', female: false, sameSurname: false },
  { relation: '孙子', female: false, sameSurname: true },
  { relation: '孙女', female: true, sameSurname: true },
  { relation: '侄子', female: false, sameSurname: true },
  { relation: '外甥女', female: true, sameSurname: false },
];

export const HEALTH_NOTES = [
  '高血压，每天早晚服药',
  '糖尿病，注意低血糖',
  '行动不便，使用助行器',
  '听力较差，请大声说话',
  '钥匙放在对门邻居家',
  '心脏支架术后',
  '轻度认知障碍，容易迷路',
  '腿脚不好，不能下楼',
] as const;

export const LIVES_WITH = ['老伴', '老伴', '子女', '老伴和子女', '保姆'] as const;

export interface VisitActivity {
  activity: string;
  /** Start times people expect for it, "H:MM". */
  starts: readonly string[];
  durations: readonly number[];
}

// The apron team's routine: cooking before lunch or supper, company in the afternoon, haircuts in the morning.
export const VISIT_ACTIVITIES: readonly VisitActivity[] = [
  { activity: '做饭', starts: ['10:00', '10:30', '16:00'], durations: [90, 120] },
  { activity: '陪聊', starts: ['9:00', '14:00', '15:00'], durations: [60, 90] },
  { activity: '送餐', starts: ['11:00', '17:00'], durations: [60] },
  { activity: '理发', starts: ['9:00', '9:30', '14:30'], durations: [60, 90] },
  { activity: '打扫卫生', starts: ['9:00', '14:00'], durations: [90, 120] },
  { activity: '读报', starts: ['15:30'], durations: [60] },
];

export const FAMILY_PREFIXES = [
  '138',
  '139',
  '137',
  '136',
  '135',
  '150',
  '151',
  '186',
  '187',
  '188',
  '131',
  '132',
  '155',
  '133',
  '189',
] as const;
export const WORKER_PREFIXES = ['139', '159', '177'] as const;
export const VOLUNTEER_PREFIXES = ['137', '158'] as const;
export const DUTY_PREFIXES = ['135', '182'] as const;
